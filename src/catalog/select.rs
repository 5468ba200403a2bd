//! Backup selection, shared by `restore` and `test-restore`: `latest` (the default, per database, by the manifest's
//! recorded time), a backup name, a local path, or a blob URL in a configured Azure store. A plain archive without a
//! manifest (the runbook's scripts make those, named `.sql.gz` or anything else) is accepted with a warning; a
//! runbook archive in a store (`legacy` in `backup list`) is found by its name too.
//!
//! Selection only reads: it never changes a store, and says what it skipped through `tracing` warnings, never by
//! printing.

use std::path::{Path, PathBuf};

use futures::StreamExt as _;

use super::list::{LEGACY_SUFFIX, base_of, database_of_name};
use super::manifest::{self, BackupKind, Manifest};
use crate::exit::{ExitStatus, UserError};
use crate::storage::{LocalStore, Store, StoreError, is_store_failure};

/// The backup to restore and where its bytes come from.
#[derive(Debug, Clone)]
pub(crate) struct Selected {
    /// `camp_backend_db_20261129_030000`, or the file name of a plain archive.
    pub name: String,
    /// The store the archive is read from (for a local path: its directory).
    pub store: Store,
    /// Object name of the archive in `store`.
    pub object: String,
    /// `None` for a plain archive: nothing to verify against.
    pub manifest: Option<Manifest>,
    /// Where the manifest is, to record a test-restore result beside the backup.
    pub manifest_object: Option<String>,
    /// `local:/var/backups/campctl`, `azure:https://…`, or `file:/path`.
    pub origin: String,
}

impl Selected {
    /// The database the backup was taken of: the manifest's, else the archive name's `<db>_<date>_<time>` prefix.
    pub(crate) fn source_database(&self) -> Option<String> {
        match &self.manifest {
            Some(manifest) => Some(manifest.database.clone()),
            None => database_of_name(&self.name),
        }
    }
}

/// Finds the backup `spec` names (`None` or `latest`: the newest backup of `database`).
///
/// # Errors
/// Nothing matches (exit 10), the spec is a files backup or a URL outside the configured stores (exit 2), a store
/// cannot be read.
pub(crate) async fn select(spec: Option<&str>, database: &str, stores: &[Store]) -> anyhow::Result<Selected> {
    match spec {
        None | Some("latest") => latest(database, stores).await,
        Some(url) if url.starts_with("https://") || url.starts_with("http://") => by_url(url, stores).await,
        Some(path) if looks_like_path(path) => by_path(Path::new(path)).await,
        Some(name) => by_name(name, stores).await,
    }
}

fn looks_like_path(spec: &str) -> bool {
    spec.contains('/') || Path::new(spec).exists()
}

fn no_backup(what: &str, stores: &[Store]) -> anyhow::Error {
    let labels: Vec<String> = stores.iter().map(Store::label).collect();
    UserError::new(ExitStatus::NotFound, format!("{what} in {}", labels.join(", ")))
        .with_hint("`campctl backup list` shows the backups there; name one, or give a path or blob URL")
        .into()
}

/// Reads and checks a manifest: it must describe a database backup.
async fn read_manifest(store: &Store, object: &str) -> anyhow::Result<Manifest> {
    let bytes = store.get(object).await?;
    let manifest = manifest::parse(&bytes).map_err(|err| {
        anyhow::Error::new(
            UserError::new(
                ExitStatus::Failure,
                format!("The manifest `{object}` in {} cannot be read: {err:#}", store.label()),
            )
            .with_hint("Restore the archive by its path or URL to use it without a manifest (it is then not verified)"),
        )
    })?;
    if manifest.kind != BackupKind::Database {
        return Err(
            UserError::usage(format!("`{}` is a files backup, not a database backup", manifest.name))
                .with_hint(format!(
                    "Extract it with `tar -xzf` after downloading `{}`",
                    manifest.object
                ))
                .into(),
        );
    }
    Ok(manifest)
}

fn from_manifest(store: &Store, manifest: Manifest, manifest_object: String) -> Selected {
    Selected {
        name: manifest.name.clone(),
        store: store.clone(),
        object: manifest.object.clone(),
        origin: store.label(),
        manifest: Some(manifest),
        manifest_object: Some(manifest_object),
    }
}

/// The stores that could not be read during one selection: each is named in a warning and skipped while another
/// store is left to look in (DESIGN.md: "listing and restore fall back to the reachable stores with a warning").
#[derive(Default)]
struct Unreachable {
    labels: Vec<String>,
}

impl Unreachable {
    /// Skips `store` after `err` (returns `Ok`) when it is an outage of that store and not the last store left;
    /// otherwise hands the error back.
    fn skip(&mut self, store: &Store, stores: &[Store], err: anyhow::Error) -> anyhow::Result<()> {
        let label = store.label();
        if self.labels.contains(&label) {
            return Ok(());
        }
        if !is_store_failure(&err) || self.labels.len() + 1 >= stores.len() {
            return Err(err);
        }
        tracing::warn!("{label} could not be read, so the backup is chosen from the other stores: {err:#}");
        self.labels.push(label);
        Ok(())
    }

    fn is_skipped(&self, store: &Store) -> bool {
        self.labels.contains(&store.label())
    }

    /// Says where the backup comes from when a store was skipped.
    fn note(&self, selected: &Selected) {
        if !self.labels.is_empty() {
            tracing::warn!(
                "using `{}` from {}, because {} could not be read (it may hold a newer backup)",
                selected.name,
                selected.origin,
                self.labels.join(", ")
            );
        }
    }
}

async fn latest(database: &str, stores: &[Store]) -> anyhow::Result<Selected> {
    let mut best: Option<Selected> = None;
    let mut unreachable = Unreachable::default();
    for store in stores {
        let objects = match store.list(&format!("{database}/")).await {
            Ok(objects) => objects,
            Err(err) => {
                unreachable.skip(store, stores, err)?;
                continue;
            }
        };
        let manifests: Vec<_> = futures::stream::iter(
            objects
                .iter()
                .filter(|o| o.name.ends_with(".manifest.json"))
                .map(|o| o.name.clone()),
        )
        .map(|name| async move { (read_manifest(store, &name).await, name) })
        .buffered(8)
        .collect()
        .await;
        for (manifest, name) in manifests {
            let manifest = match manifest {
                Ok(manifest) if manifest.database == database => manifest,
                Ok(_) => continue,
                Err(err) => {
                    tracing::warn!("skipping `{name}` in {}: {err:#}", store.label());
                    continue;
                }
            };
            let newer = best
                .as_ref()
                .and_then(|b| b.manifest.as_ref())
                .is_none_or(|b| manifest.started_at > b.started_at);
            if newer {
                best = Some(from_manifest(store, manifest, name));
            }
        }
    }
    let best = best.ok_or_else(|| no_backup(&format!("No backup of database `{database}` was found"), stores))?;
    unreachable.note(&best);
    Ok(best)
}

async fn by_name(spec: &str, stores: &[Store]) -> anyhow::Result<Selected> {
    let base = base_of(spec);
    let Some(database) = database_of_name(base) else {
        return Err(UserError::usage(format!(
            "`{spec}` is neither `latest`, a backup name (`<db>_<YYYYMMDD>_<HHMMSS>`), a path nor a blob URL"
        ))
        .with_hint("`campctl backup list` shows the backup names")
        .into());
    };
    let mut unreachable = Unreachable::default();
    for store in stores {
        let manifest_object = manifest::manifest_name(&format!("{database}/"), base);
        match read_manifest(store, &manifest_object).await {
            Ok(manifest) => {
                let selected = from_manifest(store, manifest, manifest_object);
                unreachable.note(&selected);
                return Ok(selected);
            }
            Err(err) if is_not_found(&err) => {}
            Err(err) => unreachable.skip(store, stores, err)?,
        }
    }
    // An archive without a manifest (an interrupted upload of an older campctl, or a copied-in file), or one the
    // runbook's scripts made at the top of the store (`<db>_<YYYYMMDD>_<HHMMSS>.sql.gz`, listed as `legacy`).
    for store in stores {
        for prefix in [format!("{database}/{base}."), format!("{base}{LEGACY_SUFFIX}")] {
            if unreachable.is_skipped(store) {
                continue;
            }
            let archives = match store.list(&prefix).await {
                Ok(archives) => archives,
                Err(err) => {
                    unreachable.skip(store, stores, err)?;
                    continue;
                }
            };
            if let Some(object) = archives
                .iter()
                .find(|o| !o.name.ends_with(".manifest.json") && base_of(&o.name).ends_with(base))
            {
                let selected = Selected {
                    name: base.to_string(),
                    store: store.clone(),
                    object: object.name.clone(),
                    manifest: None,
                    manifest_object: None,
                    origin: store.label(),
                };
                unreachable.note(&selected);
                return Ok(selected);
            }
        }
    }
    Err(no_backup(&format!("No backup named `{base}` was found"), stores))
}

fn is_not_found(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|cause| matches!(cause.downcast_ref::<StoreError>(), Some(StoreError::NotFound { .. })))
}

async fn by_path(path: &Path) -> anyhow::Result<Selected> {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    if !absolute.is_file() {
        return Err(UserError::new(
            ExitStatus::NotFound,
            format!("The backup file `{}` does not exist", path.display()),
        )
        .with_hint("Give the path of a pg_dump custom-format archive, a backup name, or `latest`")
        .into());
    }
    let directory = absolute.parent().map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
    let file_name = absolute
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let store = Store::Local(LocalStore::new(directory));
    let manifest_object = manifest::manifest_name("", base_of(&file_name));
    let manifest = if manifest_object == file_name {
        // The manifest itself was named: restore its archive.
        let manifest = read_manifest(&store, &file_name).await?;
        let object = manifest.object.rsplit('/').next().unwrap_or_default().to_string();
        return Ok(Selected {
            name: manifest.name.clone(),
            store: store.clone(),
            object,
            origin: format!("file:{}", absolute.display()),
            manifest: Some(manifest),
            manifest_object: Some(manifest_object),
        });
    } else {
        match read_manifest(&store, &manifest_object).await {
            Ok(manifest) if manifest.object.rsplit('/').next() == Some(file_name.as_str()) => Some(manifest),
            Ok(_) => None,
            Err(err) if is_not_found(&err) => None,
            Err(err) => return Err(err),
        }
    };
    Ok(Selected {
        name: manifest.as_ref().map_or_else(|| file_name.clone(), |m| m.name.clone()),
        manifest_object: manifest.is_some().then_some(manifest_object),
        manifest,
        store,
        object: file_name,
        origin: format!("file:{}", absolute.display()),
    })
}

async fn by_url(url: &str, stores: &[Store]) -> anyhow::Result<Selected> {
    let parsed = url::Url::parse(url).map_err(|err| UserError::usage(format!("Invalid blob URL `{url}`: {err}")))?;
    let mut without_query = parsed.clone();
    without_query.set_query(None);
    let wanted = without_query.as_str();
    for store in stores {
        let Store::Azure(azure) = store else {
            continue;
        };
        let settings = azure.settings();
        let mut container_url = format!(
            "{}/{}/",
            settings.endpoint.as_str().trim_end_matches('/'),
            settings.container
        );
        container_url.push_str(&settings.prefix);
        let Some(rest) = wanted.strip_prefix(&container_url) else {
            continue;
        };
        let object = percent_encoding::percent_decode_str(rest)
            .decode_utf8_lossy()
            .into_owned();
        let file_name = object.rsplit('/').next().unwrap_or_default().to_string();
        let folder = object.strip_suffix(&file_name).unwrap_or_default();
        let manifest_object = manifest::manifest_name(folder, base_of(&file_name));
        let manifest = match read_manifest(store, &manifest_object).await {
            Ok(manifest) if manifest.object == object => Some(manifest),
            Ok(_) => None,
            Err(err) if is_not_found(&err) => None,
            Err(err) => return Err(err),
        };
        return Ok(Selected {
            name: manifest.as_ref().map_or(file_name, |m| m.name.clone()),
            manifest_object: manifest.is_some().then_some(manifest_object),
            manifest,
            store: store.clone(),
            object,
            origin: store.label(),
        });
    }
    Err(UserError::usage(format!(
        "`{}` is not in a configured Azure store",
        redact_query(&parsed)
    ))
    .with_hint(
        "Configure its account and container under `[storage.azure]` (docs/storage.md), or download it and give the path",
    )
    .into())
}

fn redact_query(url: &url::Url) -> String {
    let mut url = url.clone();
    if url.query().is_some() {
        url.set_query(Some("REDACTED"));
    }
    url.to_string()
}
