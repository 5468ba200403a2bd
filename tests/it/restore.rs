//! `campctl restore` and `campctl test-restore` end to end: real PostgreSQL, real pg_dump / pg_restore, a local
//! store and Azurite.
//!
//! Every test works in its own database `<db>`; what campctl creates beside it (`<db>__restore_…`,
//! `<db>__pre_restore_…`, `<db>__test_restore_…`) and the `--to` targets the tests choose (`<db>__copy_…`) all start
//! with `<db>__`, so [`RestoreEnv`] can list them and drop whatever is left when the test ends (even after a panic).
//! Tests assert that campctl's own scratch databases are already gone before that happens.

mod fidelity;
mod selection;
pub(crate) mod test_restore;

use crate::backup::BackupEnv;
use crate::backup::round_trip::{LARGE_OBJECTS, TABLES};
use crate::common::{assert_exit, describe, pg};

/// The awkward database of `backup/round_trip.rs` (an extension type, quoted, mixed-case and non-ASCII names,
/// several schemas, a partitioned table, large objects, a materialized view and an empty table), plus a view, a
/// function, an expression index and a comment.
pub fn seed() -> String {
    format!("{TABLES}{EXTRA}{LARGE_OBJECTS}")
}

/// What [`seed`] adds to the round-trip database, before its large objects.
const EXTRA: &str = r#"CREATE VIEW "Sales"."Big Orders" AS SELECT * FROM "Sales"."Order Lines" WHERE "Qty" > 5;
CREATE FUNCTION ventes.double(x int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT x * 2';
CREATE INDEX users_bio ON users (lower(bio));
COMMENT ON TABLE users IS 'the users, with ''quotes''';
"#;

/// A test's campctl configuration (`campctl.toml` in the temp HOME): the test's own database, a local store, and
/// optionally Azurite too. Dropping it drops every database named `<db>__…` that is left.
pub struct RestoreEnv(BackupEnv);

impl std::ops::Deref for RestoreEnv {
    type Target = BackupEnv;

    fn deref(&self) -> &BackupEnv {
        &self.0
    }
}

impl Drop for RestoreEnv {
    fn drop(&mut self) {
        // No panic here: this may run while a failed test unwinds.
        for name in self.databases("__") {
            drop_database_quietly(&name);
        }
    }
}

impl RestoreEnv {
    pub fn local() -> Self {
        Self(BackupEnv::local())
    }

    pub fn with_azure() -> Self {
        Self(BackupEnv::with_azure())
    }

    /// Writes `campctl.toml` with the database `url`, the stores, and `extra` appended.
    pub fn write_config(&self, url: &str, extra: &str) {
        self.ctx.write_file(
            "campctl.toml",
            crate::backup::store_config(url, &self.local, self.container.as_deref(), extra),
        );
    }

    /// Runs `campctl --format json <args>`, asserts the exit code and returns the report on stdout.
    #[track_caller]
    pub fn run_json(&self, args: &[&str], code: i32) -> serde_json::Value {
        self.run_json_with_stderr(args, code).0
    }

    /// [`Self::run_json`], also returning stderr.
    #[track_caller]
    pub fn run_json_with_stderr(&self, args: &[&str], code: i32) -> (serde_json::Value, String) {
        let mut all = vec!["--format", "json"];
        all.extend_from_slice(args);
        let output = self.run(&all);
        assert_exit(&output, code);
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "the report of {args:?} is not JSON ({e}): {}\nstderr: {stderr}",
                String::from_utf8_lossy(&output.stdout),
            )
        });
        (report, stderr)
    }

    /// Runs `campctl --format json backup` and returns its report.
    #[track_caller]
    pub fn backup(&self) -> serde_json::Value {
        self.run_json(&["backup"], 0)
    }

    /// Runs `campctl --format json restore <args> --yes`, expects exit 0, and returns the report.
    #[track_caller]
    pub fn restore(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["restore"];
        all.extend_from_slice(args);
        all.push("--yes");
        self.run_json(&all, 0)
    }

    /// A name for a `--to` target of this test: `<db>__copy_<label>` (dropped with the env).
    pub fn copy_name(&self, label: &str) -> String {
        format!("{}__copy_{label}", self.db.name())
    }

    /// The databases on the cluster whose names start with `<db><infix>`, sorted.
    pub fn databases(&self, infix: &str) -> Vec<String> {
        databases_starting_with(&format!("{}{infix}", self.db.name()))
    }

    /// The manifest of the backup `report` (a `backup` report) in the local store.
    pub fn local_manifest(&self, report: &serde_json::Value) -> serde_json::Value {
        let path = self
            .local
            .join(report["manifest"].as_str().expect("manifest in the backup report"));
        serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display())))
            .expect("the manifest is JSON")
    }

    /// Rewrites the manifest of the backup `report` in the local store through `edit`.
    pub fn edit_local_manifest(&self, report: &serde_json::Value, edit: impl FnOnce(&mut serde_json::Value)) {
        let mut manifest = self.local_manifest(report);
        edit(&mut manifest);
        let path = self
            .local
            .join(report["manifest"].as_str().expect("manifest in the backup report"));
        std::fs::write(
            &path,
            serde_json::to_vec_pretty(&manifest).expect("serialize the manifest"),
        )
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// The entries of `campctl --format json backup list` for the backup named `name`.
    pub fn listed(&self, name: &str) -> Vec<serde_json::Value> {
        let list = self.run_json(&["backup", "list"], 0);
        list["backups"]
            .as_array()
            .expect("backups")
            .iter()
            .filter(|entry| entry["name"] == name)
            .cloned()
            .collect()
    }
}

/// Waits until a new backup would get a name (per second, UTC) after `backup_name`'s `_YYYYMMDD_HHMMSS`.
pub fn wait_for_next_backup_second(backup_name: &str) {
    let stamp = &backup_name[backup_name.len() - "YYYYMMDD_HHMMSS".len()..];
    while chrono::Utc::now().format("%Y%m%d_%H%M%S").to_string().as_str() <= stamp {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The databases on the cluster whose names start with `prefix` (literally: no LIKE wildcards), sorted.
pub fn databases_starting_with(prefix: &str) -> Vec<String> {
    let rows = pg()
        .client("postgres")
        .query(
            "SELECT datname::text FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1",
            &[&prefix],
        )
        .unwrap_or_else(|e| panic!("list databases: {}", describe(&e)));
    rows.iter().map(|row| row.get(0)).collect()
}

/// Whether database `name` exists.
pub fn database_exists(name: &str) -> bool {
    databases_starting_with(name).iter().any(|db| db == name)
}

/// Drops database `name` (if it exists), ending its sessions; reports failures on stderr only.
pub fn drop_database_quietly(name: &str) {
    let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(name));
    if let Err(e) = pg()
        .config("postgres")
        .connect(postgres::NoTls)
        .and_then(|mut client| client.batch_execute(&sql))
    {
        eprintln!("restore tests: {sql} failed: {}", describe(&e));
    }
}

pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Every ordinary table (relkind `r`: leaf partitions, not their parent) of database `db` outside the system
/// schemas, with its exact row count, sorted.
pub fn table_counts(db: &str) -> Vec<(String, String, i64)> {
    let mut client = pg().client(db);
    let tables = client
        .query(
            "SELECT n.nspname::text, c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2",
            &[],
        )
        .unwrap_or_else(|e| panic!("list the tables of {db}: {}", describe(&e)));
    tables
        .iter()
        .map(|row| {
            let (schema, table): (String, String) = (row.get(0), row.get(1));
            let sql = format!(
                "SELECT count(*) FROM ONLY {}.{}",
                quote_ident(&schema),
                quote_ident(&table)
            );
            let n: i64 = client
                .query_one(sql.as_str(), &[])
                .unwrap_or_else(|e| panic!("{sql} in {db}: {}", describe(&e)))
                .get(0);
            (schema, table, n)
        })
        .collect()
}

/// A digest of the contents of every table and materialized view of `db` (rows as text, sorted) and of its large
/// objects: two databases with equal digests hold the same data.
pub fn content_digest(db: &str) -> Vec<(String, String)> {
    let mut client = pg().client(db);
    let relations = client
        .query(
            "SELECT n.nspname::text, c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2",
            &[],
        )
        .unwrap_or_else(|e| panic!("list the relations of {db}: {}", describe(&e)));
    let mut digest: Vec<(String, String)> = relations
        .iter()
        .map(|row| {
            let (schema, table): (String, String) = (row.get(0), row.get(1));
            let sql = format!(
                "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '') \
                 FROM ONLY {}.{} t",
                quote_ident(&schema),
                quote_ident(&table)
            );
            let value: String = client
                .query_one(sql.as_str(), &[])
                .unwrap_or_else(|e| panic!("{sql} in {db}: {}", describe(&e)))
                .get(0);
            (format!("{schema}.{table}"), value)
        })
        .collect();
    let objects: String = client
        .query_one(
            "SELECT coalesce(string_agg(oid::text || '=' || md5(lo_get(oid)), ',' ORDER BY oid), '') \
             FROM pg_largeobject_metadata",
            &[],
        )
        .unwrap_or_else(|e| panic!("large objects of {db}: {}", describe(&e)))
        .get(0);
    digest.push(("large objects".to_owned(), objects));
    digest
}

/// `pg_dump --schema-only` of `db`, without what names the dump itself: the `-- Dumped from/by` comments, the
/// random `\restrict` / `\unrestrict` keys of newer pg_dump releases, and any line naming the database.
pub fn schema_dump(db: &str) -> String {
    let dump = String::from_utf8(pg().run_tool("pg_dump", db, &["--schema-only"])).expect("the dump is UTF-8");
    dump.lines()
        .filter(|line| {
            !line.starts_with("-- Dumped from")
                && !line.starts_with("-- Dumped by")
                && !line.starts_with("\\restrict")
                && !line.starts_with("\\unrestrict")
                && !line.contains(db)
        })
        .collect::<Vec<_>>()
        .join("\n")
}
