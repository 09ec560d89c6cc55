// Who captured an item, and who is logged in now. Every outbox item carries its
// author ({id, name}); sync.js sends an item only under its author's session, so a
// phone shared by two tutors never credits one with the other's evidence.
// The session is the truth (/api/v1/me, asked before sending); the page's
// data-person-id (rendered by the server for the same session) serves offline.

let fromSession = null;

/** {id, name} of the person the page was rendered for, or null. */
export function pagePerson() {
  const node = document.querySelector('[data-person-id]');
  const id = node ? Number(node.dataset.personId) : NaN;
  return Number.isInteger(id) && id > 0 ? {id, name: node.dataset.personName || ''} : null;
}

/** Ask the server whose session this is: {id, name}, or null when there is no
 *  session (401). Network trouble throws: the caller retries later. */
export async function sessionPerson() {
  const response = await fetch('/api/v1/me', {credentials: 'same-origin', cache: 'no-store',
    headers: {Accept: 'application/json'}});
  if (response.status === 401 || response.status === 403) {
    fromSession = null;
    return null;
  }
  if (!response.ok) throw new Error(`me: ${response.status}`);
  const me = await response.json();
  fromSession = {id: Number(me.id), name: String(me.full_name || '')};
  return fromSession;
}

/** The best knowledge without a request: the last session answer, else the page. */
export function currentPerson() {
  return fromSession || pagePerson();
}

export function sameAuthor(item, person) {
  return Boolean(person && item && item.author && item.author.id === person.id);
}
