//! Backups that succeed: every compression, both stores, awkward objects, exact row counts, `backup list`.

use super::{BackupEnv, decompress, pg_restore_list};
use crate::common::{assert_exit, azurite};

/// The awkward database: an extension type, quoted, mixed-case and non-ASCII names, several schemas, a partitioned
/// table, a materialized view, an empty table ([`TABLES`]) and large objects ([`LARGE_OBJECTS`]). `restore.rs` seeds
/// the same plus a few objects of its own.
fn seed() -> String {
    format!("{TABLES}{LARGE_OBJECTS}")
}

/// The schemas, tables and rows of [`seed`].
pub(crate) const TABLES: &str = r#"
CREATE EXTENSION citext;
CREATE SCHEMA "Sales";
CREATE SCHEMA ventes;
CREATE TABLE users (id bigserial PRIMARY KEY, email citext UNIQUE, bio text, avatar bytea, prefs jsonb);
INSERT INTO users (email, bio, avatar, prefs)
  SELECT 'u' || g || '@example.com', E'line one\nline two\twith tab \\ backslash ' || g,
         decode(md5(g::text), 'hex'), jsonb_build_object('n', g, 'tags', jsonb_build_array('a', 'b'))
  FROM generate_series(1, 3000) g;
CREATE TABLE "Sales"."Order Lines" ("Id" int PRIMARY KEY, "Qty" int);
INSERT INTO "Sales"."Order Lines" SELECT g, g % 7 FROM generate_series(1, 1234) g;
CREATE TABLE ventes."données_été" (clé int, valeur text);
INSERT INTO ventes."données_été" SELECT g, 'é' || g FROM generate_series(1, 77) g;
CREATE TABLE measurements (at date NOT NULL, v int) PARTITION BY RANGE (at);
CREATE TABLE measurements_2025 PARTITION OF measurements FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE measurements_2026 PARTITION OF measurements FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO measurements SELECT date '2025-06-01' + (g % 400), g FROM generate_series(1, 500) g;
CREATE TABLE empty_table (x int);
CREATE MATERIALIZED VIEW user_counts AS SELECT count(*) AS n FROM users;
"#;

/// The large objects of [`seed`]; last, so that they take the OIDs after those of the other objects.
pub(crate) const LARGE_OBJECTS: &str =
    "SELECT lo_from_bytea(0, 'large object one'), lo_from_bytea(0, 'large object two');\n";

fn counts(env: &BackupEnv) -> Vec<(String, String, i64)> {
    let mut client = env.db.client();
    let tables = client
        .query(
            "SELECT n.nspname::text, c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2",
            &[],
        )
        .expect("tables");
    tables
        .iter()
        .map(|row| {
            let (schema, table): (String, String) = (row.get(0), row.get(1));
            let sql = format!(
                "SELECT count(*) FROM \"{}\".\"{}\"",
                schema.replace('"', "\"\""),
                table.replace('"', "\"\"")
            );
            let n: i64 = client.query_one(sql.as_str(), &[]).expect("count").get(0);
            (schema, table, n)
        })
        .collect()
}

fn manifest_counts(manifest: &serde_json::Value) -> Vec<(String, String, i64)> {
    let mut rows: Vec<(String, String, i64)> = manifest["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .map(|t| {
            (
                t["schema"].as_str().expect("schema").to_string(),
                t["table"].as_str().expect("table").to_string(),
                t["rows"].as_i64().expect("rows"),
            )
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn every_compression_round_trips_through_pg_restore_with_exact_row_counts() {
    let env = BackupEnv::local();
    env.db.execute(&seed());
    let expected = counts(&env);
    for compression in ["zstd", "gzip:1", "pgdump:1", "none"] {
        let report = env.backup(&["--compression", compression]);
        let object = report["object"].as_str().expect("object");
        let manifest_path = env.local.join(report["manifest"].as_str().expect("manifest"));
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&manifest_path).expect("manifest file")).expect("manifest json");
        assert_eq!(manifest_counts(&manifest), expected, "{compression}");
        let stored = std::fs::read(env.local.join(object)).expect("archive");
        assert_eq!(manifest["size_bytes"].as_u64(), Some(stored.len() as u64));
        let sha = {
            use sha2::Digest as _;
            hex::encode(sha2::Sha256::digest(&stored))
        };
        assert_eq!(manifest["sha256"].as_str(), Some(sha.as_str()), "{compression}");
        let toc = pg_restore_list(&decompress(
            &stored,
            manifest["compression"].as_str().expect("compression"),
        ));
        for needle in [
            "TABLE DATA Sales Order Lines",
            "données_été",
            "measurements_2026",
            "user_counts",
            "BLOB -",
            "citext",
        ] {
            assert!(
                toc.contains(needle),
                "{compression}: `{needle}` missing from the TOC:\n{toc}"
            );
        }
        assert_eq!(manifest["archive"]["large_objects"], 2, "{compression}");
        // One backup per second per database: the names must differ.
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    let files = env.local_backup_files();
    assert_eq!(
        files.iter().filter(|f| f.ends_with(".manifest.json")).count(),
        4,
        "{files:?}"
    );
    assert!(!files.iter().any(|f| f.ends_with(".partial")), "{files:?}");
}

#[test]
fn backup_to_azurite_and_local_from_one_stream() {
    let env = BackupEnv::with_azure();
    env.db
        .execute("CREATE TABLE t AS SELECT g AS id, repeat('x', 100) AS pad FROM generate_series(1, 20000) g");
    let report = env.backup(&[]);
    assert_eq!(report["stores"].as_array().map(Vec::len), Some(2), "{report}");
    let object = report["object"].as_str().expect("object");
    let container = env.container.as_deref().expect("container");
    let blob = azurite().get_blob(container, &format!("pg/{object}"));
    let local = std::fs::read(env.local.join(object)).expect("local archive");
    assert_eq!(blob, local, "both stores hold the same bytes");
    let manifest = azurite().get_blob(
        container,
        &format!("pg/{}", report["manifest"].as_str().expect("manifest")),
    );
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).expect("manifest json");
    assert_eq!(manifest["tables"][0]["rows"], 20000);
    let list = env.run(&["--format", "json", "backup", "list"]);
    assert_exit(&list, 0);
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).expect("json");
    assert_eq!(
        list["backups"].as_array().map(Vec::len),
        Some(2),
        "one row per store: {list}"
    );
}

#[test]
fn backup_list_is_newest_first_and_marks_archives_without_manifest() {
    let env = BackupEnv::local();
    env.db.execute("CREATE TABLE t (x int)");
    let first = env.backup(&["--compression", "none"]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = env.backup(&["--compression", "none"]);
    let db = env.db.name();
    std::fs::write(
        env.local.join(format!("{db}/{db}_20200101_000000.dump")),
        b"PGDMP stray",
    )
    .expect("stray");
    let output = env.run(&["--format", "json", "backup", "list", "--db", db]);
    assert_exit(&output, 0);
    let list: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let backups = list["backups"].as_array().expect("backups");
    let complete: Vec<&str> = backups
        .iter()
        .filter(|b| b["kind"] == "database")
        .map(|b| b["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        complete,
        vec![second["name"].as_str().expect("n"), first["name"].as_str().expect("n")]
    );
    // An archive without a manifest is listed (at its file time), but only as incomplete.
    let stray = backups
        .iter()
        .find(|b| b["kind"] == "incomplete")
        .expect("the stray archive is listed");
    assert_eq!(stray["name"], format!("{db}_20200101_000000"));
    assert_eq!(stray["sha256"], serde_json::Value::Null);
    assert!(String::from_utf8_lossy(&output.stderr).contains("incomplete"));
    let limited = env.run(&["--format", "json", "backup", "list", "--limit", "1"]);
    let limited: serde_json::Value = serde_json::from_slice(&limited.stdout).expect("json");
    assert_eq!(limited["backups"].as_array().map(Vec::len), Some(1));
}

#[test]
fn listed_row_counts_count_only_the_listed_tables() {
    let env = BackupEnv::local();
    env.db.execute(
        "CREATE TABLE counted AS SELECT g FROM generate_series(1, 321) g; \
         CREATE TABLE skipped AS SELECT g FROM generate_series(1, 50) g;",
    );
    let config = std::fs::read_to_string(env.ctx.home().join("campctl.toml")).expect("config");
    env.ctx.write_file(
        "campctl.toml",
        config + "\n[backup]\nrow_count_tables = [\"public.counted\"]\n",
    );
    let report = env.backup(&["--row-counts", "listed"]);
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(env.local.join(report["manifest"].as_str().expect("manifest"))).expect("manifest"),
    )
    .expect("json");
    assert_eq!(manifest["row_counts"], "listed");
    let rows = |table: &str| {
        manifest["tables"]
            .as_array()
            .expect("tables")
            .iter()
            .find(|t| t["table"] == table)
            .expect("table")["rows"]
            .clone()
    };
    assert_eq!(rows("counted"), 321);
    assert_eq!(rows("skipped"), serde_json::Value::Null);
}
