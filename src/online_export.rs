//! Online backups. sled locks its directory, so while the server runs no other process can
//! open the database; `rcpush export` then asks the server through a Unix socket in the
//! database directory. The socket is owner-only, like the database files it exposes.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::store::Store;

/// Where a running server listens for export requests.
pub fn socket_path(storage: &Path) -> PathBuf {
    storage.join("export.sock")
}

/// The bundle of the whole database, as `seed` loads it (read under the store's write lock).
pub fn export(store: &Store) -> anyhow::Result<Vec<u8>> {
    crate::seed::write(&store.snapshot()?)
}

/// Answers every connection to the socket with a full export, then closes it. Runs until the
/// runtime it was spawned on stops. A socket that cannot be created only disables online
/// exports, so it is logged, not fatal.
pub fn serve_exports(store: Store, storage: &Path) {
    let path = socket_path(storage);
    // A socket left by a killed server; ours now, since we hold the database lock.
    let _ = std::fs::remove_file(&path);
    let listener = match tokio::net::UnixListener::bind(&path) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "online export disabled");
            return;
        }
    };
    use std::os::unix::fs::PermissionsExt;
    if let Err(e) = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)) {
        tracing::warn!(path = %path.display(), error = %e, "online export disabled");
        return;
    }
    let socket = RemoveOnDrop(path);
    actix_web::rt::spawn(async move {
        let _socket = socket;
        while let Ok((mut stream, _)) = listener.accept().await {
            let store = store.clone();
            actix_web::rt::spawn(async move {
                let bundle = actix_web::web::block(move || export(&store)).await;
                match bundle {
                    Ok(Ok(bytes)) => {
                        use tokio::io::AsyncWriteExt;
                        let _ = stream.write_all(&bytes).await;
                        let _ = stream.shutdown().await;
                        tracing::info!(bytes = bytes.len(), "exported the database");
                    }
                    Ok(Err(e)) => tracing::error!(error = %format_args!("{e:#}"), "export failed"),
                    Err(e) => tracing::error!(error = %e, "export failed"),
                }
            });
        }
    });
}

/// The socket file, removed when the server (and so the task that owns this) stops.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Asks the server running on `storage` for an export. `None` when no server answers there.
pub fn request_export(storage: &Path) -> anyhow::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let Ok(mut stream) = std::os::unix::net::UnixStream::connect(socket_path(storage)) else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    stream
        .read_to_end(&mut bytes)
        .context("the running server did not complete the export")?;
    Ok(Some(bytes))
}
