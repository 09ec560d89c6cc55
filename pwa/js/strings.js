// Every sentence the PWA's scripts show, in French, in one place, so that another
// language is one more table. The server's pages translate theirs with gettext.
// t(key, {name: value}) fills {name}; an entry {one, other} is chosen by vars.n
// (French: 0 and 1 take the singular).

const FR = {
  // app.js
  update_available: 'Nouvelle version disponible. Les observations enregistrées sur le téléphone sont conservées.',
  update_button: 'Mettre à jour',
  logout_pending: {one: "{n} élément n'est pas encore envoyé : il reste sur ce téléphone et partira quand vous vous reconnecterez. Se déconnecter quand même ?",
    other: "{n} éléments ne sont pas encore envoyés : ils restent sur ce téléphone et partiront quand vous vous reconnecterez. Se déconnecter quand même ?"},
  logout_offline: "Pas de réseau : impossible de se déconnecter maintenant. Rien n'est perdu, vos éléments restent sur ce téléphone. Réessayez avec du réseau.",

  // install.js
  install_prompt: "Installez Carnet pour l'ouvrir en un geste, même sans réseau.",

  // status.js: the outbox
  all_sent: 'Tout est envoyé : rien en attente sur ce téléphone.',
  pending: "{total} en attente d'envoi ({observations} observation{os} + {photos} photo{ps})",
  offline: "Hors ligne : l'envoi reprendra dès le retour du réseau.",
  sending: 'Envoi en cours…',
  retry_in: 'Réseau ou serveur indisponible : nouvel essai dans {seconds} s.',
  retry_soon: 'Nouvel essai bientôt.',
  last_sync: 'Dernier envoi confirmé : {time}.',
  never_synced: "Aucun envoi confirmé depuis ce téléphone pour l'instant.",
  upload_photo: 'Photo',
  upload_photo_size: 'Photo ({kb} Ko)',
  others_pending: {one: '{n} élément de {name} en attente', other: '{n} éléments de {name} en attente'},
  others_pending_help: "Seule cette personne peut les envoyer ou les supprimer, une fois connectée sur ce téléphone. Vous pouvez les exporter (panneau « Stockage »).",
  someone: 'une autre personne',
  not_yours: "Cet élément a été saisi par {name} : seule cette personne peut l'envoyer ou le supprimer.",

  // status.js: conflicts and stuck items
  rating_met: 'acquis',
  rating_progressing: 'en cours',
  rating_not_met: 'non acquis',
  field_date: 'Date',
  field_situation: 'Situation',
  field_place: 'Lieu',
  field_criteria: 'Critères',
  field_photos: 'Photos',
  field_comment: 'Commentaire',
  none: 'aucun',
  conflict_intro: "Le serveur a déjà une autre version de cette observation. Choisissez celle à garder.",
  version_mine: 'Votre version (sur ce téléphone)',
  version_stored: 'Version enregistrée sur le serveur',
  unavailable: 'Indisponible.',
  keep_mine: 'Garder la mienne',
  drop_mine: 'Abandonner la mienne',
  keep_mine_help: "« Garder la mienne » l'envoie comme correction : l'ancienne version reste dans l'historique.",
  stuck_photo: 'Photo',
  stuck_observation: 'Observation du {date} — {situation}',
  refused: 'refusée par le serveur.',
  retry: 'Réessayer',
  conflicts_title: 'Deux versions à départager',
  stuck_title: 'Éléments bloqués (gardés sur le téléphone)',
  stuck_help: 'Exportez-les (panneau « Stockage ») pour les transmettre autrement.',

  // sync.js: reasons kept with stuck items
  hash_mismatch_photo: "Le serveur n'a pas reçu les mêmes octets que ceux du téléphone.",
  hash_mismatch_observation: 'Le serveur a enregistré un contenu différent de celui du téléphone.',
  server_refused: 'Refus du serveur ({status}).',

  // status.js: iPhone warnings (docs/pwa.md, storage rules)
  phone_only: {one: '{n} élément uniquement sur ce téléphone depuis le {date}.',
    other: '{n} éléments uniquement sur ce téléphone depuis le {date}.'},
  phone_only_days: {one: ' (depuis {n} jour)', other: ' (depuis {n} jours)'},
  ios_why_install: "Sur iPhone, Safari efface les données d'un site qui n'a pas été ouvert pendant 7 jours d'utilisation de Safari, dont ces éléments : installez Carnet sur l'écran d'accueil pour les garder.",
  ios_how_install: "Dans Safari : bouton Partager, puis « Sur l'écran d'accueil ».",
  ios_install_send_first: "Envoyez d'abord les éléments en attente (réseau nécessaire) : l'application installée ne voit pas ce qui est resté dans Safari.",
  ios_phone_only_warn: 'Connectez-vous à un réseau pour les envoyer, ou exportez-les.',
  ios_phone_only_danger: "Safari peut les effacer à tout moment : envoyez-les ou exportez-les maintenant.",
  first_run: "Première ouverture de l'application : ses données sont séparées de celles de Safari. Si des éléments attendaient dans Safari, ouvrez Carnet une fois de plus dans Safari, avec du réseau, pour les envoyer avant de continuer ici.",
  first_run_done: "C'est fait",

  // status.js: storage, export, import
  megabytes: '{value} Mo',
  no_estimate: "Ce navigateur n'indique pas l'espace disponible.",
  usage: 'Espace utilisé : {usage} sur {quota} disponibles.',
  persisted: "Stockage protégé : le navigateur ne l'effacera pas pour faire de la place ; seuls l'effacement des données du site ou la désinstallation le suppriment.",
  not_persisted: "Si le téléphone manque de place, il peut effacer ce qui n'est pas encore envoyé. Pour ne rien perdre : envoyez dès que vous avez du réseau, ou gardez une copie avec « Exporter les éléments non envoyés ».",
  rules_ios_tab: "iPhone, dans Safari : les données de ce site, dont les éléments non envoyés, sont effacées après 7 jours d'utilisation de Safari sans ouvrir Carnet, même quand le stockage est dit « protégé ». Installez Carnet sur l'écran d'accueil pour les garder.",
  rules_ios_app: "iPhone, application de l'écran d'accueil : ses données sont séparées de celles de Safari et ne sont pas effacées après 7 jours sans visite. Supprimer l'application de l'écran d'accueil les efface ; iOS peut aussi en effacer si le téléphone manque d'espace.",
  near_quota: "Espace presque plein ({percent} %) : envoyez ou exportez les éléments en attente, sinon les prochaines photos ne pourront pas être gardées.",
  not_export: "Ce fichier n'est pas un export de Carnet.",
  export_title: 'Carnet : éléments non envoyés',
  imported: "{observations} observation(s) et {photos} photo(s) ajoutées à la file d'envoi",
  imported_skipped: ' ({skipped} déjà présentes).',
  import_failed: 'Import impossible : {message}',

  // capture.js
  photo_alt: 'Photo {n}',
  photo_reducing: 'Réduction de la photo…',
  photo_kept_original: 'Photo gardée telle quelle (format non lisible ici).',
  photo_size: '{width} × {height} px, {kb} Ko',
  photo_target: 'Ce que montre la photo {n}',
  photo_remove: 'Retirer',
  photo_removed: 'Photo retirée.',
  photo_undo: 'Annuler',
  photo_for: 'Preuve : {label} ({competency})',
  photo_pick: 'Que montre cette photo ({competency}) ?',
  photo_no_target: "Notez un critère : la photo sera rattachée à la preuve attendue pour sa compétence.",
  photo_no_evidence: "{competency} n'attend pas de photo : elle est gardée avec l'observation.",
  reuse: 'Reprendre : {value}',
  search_none: 'Aucun critère ne correspond.',
  document_pdf: 'Document PDF (aperçu après l\'envoi)',

  // candidate.js
  candidate_preparing: {one: 'Préparation de la photo…', other: 'Préparation des {n} photos…'},
  candidate_saved: {one: "Photo gardée sur ce téléphone pour « {label} » : elle part au serveur dès que le réseau le permet.",
    other: "{n} photos gardées sur ce téléphone pour « {label} » : elles partent au serveur dès que le réseau le permet."},
  need_date: "Indiquez la date de l'observation.",
  need_situation: "Indiquez la situation ou l'ouvrage observé.",
  need_content: 'Une observation évalue au moins un critère ou joint une photo.',
  saved: {one: 'Observation enregistrée sur ce téléphone ({n} élément à envoyer). Elle partira au serveur dès que le réseau le permet.',
    other: 'Observation enregistrée sur ce téléphone ({n} éléments à envoyer). Elle partira au serveur dès que le réseau le permet.'},
  save_failed: 'Enregistrement impossible sur ce téléphone ({message}). Votre saisie est toujours là.',
  too_many_photos: '{n} photos au plus par observation.',
  photo_on_page: 'Réduite sur la page (le traitement en arrière-plan ne répondait pas).',
  preparing_photos: 'Préparation des photos ({done} sur {n})…',
  saving: 'Enregistrement sur le téléphone…',
  draft_failed: 'Brouillon non gardé sur le téléphone ({message}) : enregistrez dès que possible.',
  draft_found: {one: 'Saisie non enregistrée du {date} retrouvée sur ce téléphone (« {situation} », {n} photo).',
    other: 'Saisie non enregistrée du {date} retrouvée sur ce téléphone (« {situation} », {n} photos).'},
  draft_resume: 'Reprendre cette saisie',
  draft_discard: 'La supprimer',

  // capture.js: why the plain form is used (features.js)
  plain_form: "Le formulaire envoie donc directement au serveur : le réseau est nécessaire pour enregistrer.",
  no_random: "Ce navigateur ne sait pas créer d'identifiants aléatoires.",
  no_digest: 'Ce navigateur ne peut pas calculer les empreintes des photos (page non sécurisée ?).',
  no_indexeddb: 'Ce navigateur ne permet pas de garder les observations sur le téléphone (navigation privée ?).',
  no_blob_storage: 'Ce navigateur ne peut pas garder de photos sur le téléphone.',
  capture_failed: "La saisie hors ligne n'a pas pu démarrer sur ce navigateur.",
};

export function t(key, vars = {}) {
  let text = FR[key];
  if (text === undefined) return key;
  if (typeof text === 'object') text = Number(vars.n) > 1 ? text.other : text.one;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}
