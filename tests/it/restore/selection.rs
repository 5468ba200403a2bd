//! Which backup `restore` takes: `latest` (by the manifest's time), a backup name, a local path, a blob URL, and a
//! plain archive of the runbook's scripts without a manifest.

use super::{
    RestoreEnv, content_digest, database_exists, drop_database_quietly, seed, table_counts, wait_for_next_backup_second,
};
use crate::common::{assert_exit, azurite, pg};

/// A database whose backups tell apart: `generation` holds one number, `items` a number of rows.
fn seed_generation(env: &RestoreEnv, generation: i32, items: i32) {
    env.db.execute(&format!(
        "CREATE TABLE IF NOT EXISTS generation (g int); DELETE FROM generation; \
         INSERT INTO generation VALUES ({generation}); \
         CREATE TABLE IF NOT EXISTS items (id int); DELETE FROM items; \
         INSERT INTO items SELECT generate_series(1, {items});"
    ));
}

/// `(generation, items)` of database `db`.
fn generation_of(db: &str) -> (i32, i64) {
    let mut client = pg().client(db);
    let row = client
        .query_one("SELECT (SELECT g FROM generation), (SELECT count(*) FROM items)", &[])
        .expect("read the generation");
    (row.get(0), row.get(1))
}

/// Restores `args` into a new `<db>__copy_<label>` and returns the report and the generation found there; the copy is
/// dropped again.
fn restore_generation(env: &RestoreEnv, label: &str, args: &[&str]) -> (serde_json::Value, (i32, i64)) {
    let target = env.copy_name(label);
    let mut all = args.to_vec();
    all.extend(["--to", target.as_str()]);
    let report = env.restore(&all);
    let found = generation_of(&target);
    assert_eq!(env.databases("__"), vec![target.clone()], "only the target is left");
    drop_database_quietly(&target);
    (report, found)
}

#[test]
fn latest_is_the_newest_by_manifest_time_and_a_name_or_path_selects_an_older_backup() {
    let env = RestoreEnv::local();
    let db = env.db.name().to_owned();
    seed_generation(&env, 1, 10);
    let first = env.backup();
    let first_name = first["name"].as_str().expect("name").to_owned();
    wait_for_next_backup_second(&first_name);
    seed_generation(&env, 2, 25);
    let second = env.backup();
    let second_name = second["name"].as_str().expect("name").to_owned();
    assert!(first_name < second_name, "{first_name} {second_name}");

    let (report, found) = restore_generation(&env, "latest", &["latest"]);
    assert_eq!(report["backup"], second_name.as_str(), "{report}");
    assert_eq!(found, (2, 25));
    // No BACKUP argument means `latest` too.
    let (report, found) = restore_generation(&env, "default", &[]);
    assert_eq!(report["backup"], second_name.as_str(), "{report}");
    assert_eq!(found, (2, 25));

    let (report, found) = restore_generation(&env, "by_name", &[&first_name]);
    assert_eq!(report["backup"], first_name.as_str(), "{report}");
    assert_eq!(report["checksum_verified"], true, "{report}");
    assert_eq!(found, (1, 10));

    // The archive's path: the manifest beside it is found and used.
    let archive = env.local.join(first["object"].as_str().expect("object"));
    assert!(
        archive.to_string_lossy().ends_with(".dump.zst"),
        "{}",
        archive.display()
    );
    let archive_arg = archive.to_str().expect("UTF-8 path");
    let (report, found) = restore_generation(&env, "by_path", &[archive_arg]);
    assert_eq!(report["backup"], first_name.as_str(), "{report}");
    assert_eq!(report["checksum_verified"], true, "{report}");
    assert_eq!(report["origin"], format!("file:{}", archive.display()), "{report}");
    assert_eq!(found, (1, 10));

    // By the manifest's time, never by name: the older backup under a name that sorts after every other.
    let late_name = format!("{db}_29991231_235959");
    let late_object = format!("{db}/{late_name}.dump.zst");
    std::fs::rename(&archive, env.local.join(&late_object)).expect("rename the archive");
    env.edit_local_manifest(&first, |manifest| {
        manifest["name"] = late_name.clone().into();
        manifest["object"] = late_object.clone().into();
    });
    std::fs::rename(
        env.local.join(first["manifest"].as_str().expect("manifest")),
        env.local.join(format!("{db}/{late_name}.manifest.json")),
    )
    .expect("rename the manifest");
    let (report, found) = restore_generation(&env, "latest_again", &["latest"]);
    assert_eq!(report["backup"], second_name.as_str(), "{report}");
    assert_eq!(found, (2, 25));
    // ...and the renamed backup is a good one, which `latest` passed over only for its time.
    let (report, found) = restore_generation(&env, "late_name", &[&late_name]);
    assert_eq!(report["backup"], late_name.as_str(), "{report}");
    assert_eq!(found, (1, 10));
}

#[test]
fn a_blob_url_selects_a_backup_in_the_azure_store() {
    let env = RestoreEnv::with_azure();
    seed_generation(&env, 7, 4321);
    let backup = env.backup();
    assert_eq!(backup["stores"].as_array().map(Vec::len), Some(2), "{backup}");
    let object = backup["object"].as_str().expect("object");
    let container = env.container.as_deref().expect("container");
    let blob = format!("pg/{object}");
    assert!(azurite().list_blobs(container).contains(&blob), "{blob}");
    // Only Azure can serve it now.
    std::fs::remove_dir_all(env.local.join(env.db.name())).expect("remove the local copy");

    let url = format!("{}/{container}/{blob}", azurite().endpoint());
    let (report, found) = restore_generation(&env, "url", &[&url]);

    assert_eq!(report["backup"], backup["name"], "{report}");
    assert_eq!(report["checksum_verified"], true, "{report}");
    assert!(
        report["origin"].as_str().is_some_and(|o| o.starts_with("azure:")),
        "{report}"
    );
    assert_eq!(found, (7, 4321));
}

#[test]
fn an_unknown_backup_or_a_database_without_backups_exits_10() {
    let env = RestoreEnv::local();
    seed_generation(&env, 1, 1);
    let db = env.db.name().to_owned();
    let target = env.copy_name("none");

    // Nothing backed up yet: `latest` finds nothing.
    let output = env.run(&["restore", "--to", &target, "--yes"]);
    assert_exit(&output, 10);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("No backup of database `{db}`")), "{stderr}");
    assert_exit(&env.run(&["test-restore"]), 10);

    env.backup();
    let unknown = format!("{db}_20000101_000000");
    let output = env.run(&["restore", &unknown, "--to", &target, "--yes"]);
    assert_exit(&output, 10);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("No backup named `{unknown}`")), "{stderr}");
    assert_exit(&env.run(&["test-restore", &unknown]), 10);

    // `latest` of another database that has no backups, while this one has one.
    let other = format!("{db}_other");
    let output = env.run(&["restore", "--db", &other, "--to", &target, "--yes"]);
    assert_exit(&output, 10);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("No backup of database `{other}`")), "{stderr}");

    assert!(env.databases("__").is_empty(), "{:?}", env.databases("__"));
}

#[test]
fn a_runbook_archive_without_a_manifest_restores_with_a_warning() {
    let env = RestoreEnv::local();
    env.db.execute(&seed());
    let source = env.db.name();
    // The runbook's backup script: `pg_dump --format=custom --file=..._YYYYMMDD_HHMMSS.sql.gz` (not gzip at all).
    let dir = env.ctx.home().join("var/backups/postgresql");
    std::fs::create_dir_all(&dir).expect("create the runbook's backup directory");
    let file_name = "camp_backend_db_20250111_030000.sql.gz";
    let path = dir.join(file_name);
    let path_arg = path.to_str().expect("UTF-8 path");
    pg().run_tool("pg_dump", source, &["--format=custom", "--file", path_arg]);
    assert!(
        std::fs::read(&path).expect("the archive").starts_with(b"PGDMP"),
        "a custom-format archive"
    );
    let target = env.copy_name("runbook");

    let (report, stderr) = env.run_json_with_stderr(&["restore", path_arg, "--to", &target, "--yes"], 0);

    assert!(
        stderr.contains("has no campctl manifest") && stderr.contains("cannot be verified"),
        "{stderr}"
    );
    assert_eq!(report["checksum_verified"], false, "{report}");
    assert_eq!(report["backup"], file_name, "{report}");
    assert_eq!(report["origin"], format!("file:{}", path.display()), "{report}");
    let expected = table_counts(source);
    assert_eq!(
        report["rows"].as_i64(),
        Some(expected.iter().map(|(_, _, rows)| rows).sum()),
        "{report}"
    );
    assert_eq!(table_counts(&target), expected);
    assert_eq!(content_digest(&target), content_digest(source));
    assert_eq!(env.databases("__"), vec![target.clone()]);
    drop_database_quietly(&target);

    // test-restore takes it too, and says the checksum was not verified.
    let (report, stderr) = env.run_json_with_stderr(&["test-restore", path_arg], 0);
    assert!(stderr.contains("has no campctl manifest"), "{stderr}");
    assert_eq!(report["passed"], true, "{report}");
    let download = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|check| check["name"] == "download + checksum")
        .expect("the download check");
    assert!(
        download["detail"].as_str().is_some_and(|d| d.contains("not verified")),
        "{download}"
    );
    assert_eq!(report["recorded_in"], serde_json::json!([]), "{report}");
    let scratch = report["scratch_database"].as_str().expect("scratch_database");
    assert!(!database_exists(scratch), "{scratch} is dropped");
    assert!(env.databases("__").is_empty(), "{:?}", env.databases("__"));
}

/// Architecture issue, item 7: an archive the runbook's backup script made in the store
/// (`<db>_<YYYYMMDD>_<HHMMSS>.sql.gz` at its top, a custom-format dump despite the name) is listed as `legacy`, in the
/// table and in JSON, and `restore` takes it by name, with the warning that it cannot be verified.
#[test]
fn a_runbook_archive_in_the_store_is_listed_as_legacy_and_restores_by_name() {
    let env = RestoreEnv::local();
    env.db.execute(&seed());
    let source = env.db.name();
    let name = format!("{source}_20250111_030000");
    let path = env.local.join(format!("{name}.sql.gz"));
    std::fs::create_dir_all(&env.local).expect("create the store");
    pg().run_tool(
        "pg_dump",
        source,
        &["--format=custom", "--file", path.to_str().expect("UTF-8 path")],
    );

    let (list, stderr) = env.run_json_with_stderr(&["backup", "list"], 0);
    let entry = list["backups"]
        .as_array()
        .expect("backups")
        .iter()
        .find(|entry| entry["name"] == name.as_str())
        .unwrap_or_else(|| panic!("`{name}` is listed: {list}"));
    assert_eq!(entry["kind"], "legacy", "{entry}");
    assert_eq!(entry["database"], source, "{entry}");
    assert_eq!(entry["object"], format!("{name}.sql.gz"), "{entry}");
    assert_eq!(entry["verified"], serde_json::Value::Null, "{entry}");
    assert!(stderr.contains("`legacy`") && stderr.contains("cannot"), "{stderr}");
    let table = env.run(&["backup", "list", "--db", source]);
    assert_exit(&table, 0);
    let table = String::from_utf8_lossy(&table.stdout);
    let row = table
        .lines()
        .find(|line| line.contains(&name))
        .unwrap_or_else(|| panic!("`{name}` is in the table: {table}"));
    assert!(row.contains("legacy"), "{row}");

    let target = env.copy_name("legacy");
    let (report, stderr) = env.run_json_with_stderr(&["restore", &name, "--to", &target, "--yes"], 0);
    assert!(
        stderr.contains("has no campctl manifest") && stderr.contains("cannot be verified"),
        "{stderr}"
    );
    assert_eq!(report["backup"], name.as_str(), "{report}");
    assert_eq!(report["checksum_verified"], false, "{report}");
    assert_eq!(table_counts(&target), table_counts(source));
    assert_eq!(content_digest(&target), content_digest(source));
    drop_database_quietly(&target);
}
