"""A stored photo as an HTTP response, after the route's access check: a file from the
folder store, or streamed from the S3-compatible store (never held whole in memory), or,
when `CARNET_S3_PRESIGN_SECONDS` is set, a redirect to a URL of the store signed for that
many seconds."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from backend.storage import LocalPhotoStore, PhotoStore, S3PhotoStore


async def photo_response(store: PhotoStore, sha: str, media_type: str, headers: dict[str, str],
                         presign_seconds: int = 0) -> Response:
    if isinstance(store, LocalPhotoStore):
        path = await run_in_threadpool(store.path, sha)
        return FileResponse(path, media_type=media_type, headers=headers)
    if isinstance(store, S3PhotoStore) and presign_seconds > 0:
        url = await run_in_threadpool(store.presigned_url, sha, presign_seconds, media_type)
        # The signed URL is the credential: neither it nor its target is cached.
        return RedirectResponse(url, status_code=303, headers={
            "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})
    size, chunks = await run_in_threadpool(store.stream, sha)
    return StreamingResponse(chunks, media_type=media_type,
                             headers={**headers, "Content-Length": str(size)})
