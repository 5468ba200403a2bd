//! What a restore brings back: the same schema and the same rows as the source, whether it restores into a new
//! database, swaps the backup in for the live one, or spools the archive for parallel jobs.

use super::{RestoreEnv, content_digest, database_exists, drop_database_quietly, schema_dump, seed, table_counts};

/// Asserts two schema dumps are equal, showing the first lines that differ rather than two whole dumps.
#[track_caller]
fn assert_same_schema(source: &str, restored: &str) {
    if source == restored {
        return;
    }
    let (source_lines, restored_lines): (Vec<&str>, Vec<&str>) = (source.lines().collect(), restored.lines().collect());
    let first = source_lines
        .iter()
        .zip(&restored_lines)
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| source_lines.len().min(restored_lines.len()));
    let window = |lines: &[&str]| {
        lines
            .iter()
            .skip(first)
            .take(12)
            .copied()
            .collect::<Vec<_>>()
            .join("\n")
    };
    panic!(
        "the schema dumps differ from line {} on ({} vs {} lines)\n--- source ---\n{}\n--- restored ---\n{}",
        first + 1,
        source_lines.len(),
        restored_lines.len(),
        window(&source_lines),
        window(&restored_lines)
    );
}

fn total_rows(counts: &[(String, String, i64)]) -> i64 {
    counts.iter().map(|(_, _, rows)| rows).sum()
}

#[test]
fn restore_to_a_new_database_reproduces_the_schema_and_every_row() {
    let env = RestoreEnv::local();
    env.db.execute(&seed());
    let source = env.db.name();
    let source_counts = table_counts(source);
    assert_eq!(source_counts.len(), 6, "the seed's leaf tables: {source_counts:?}");
    let backup = env.backup();

    let target = env.copy_name("fidelity");
    let report = env.restore(&["--to", &target]);

    assert_eq!(report["backup"], backup["name"], "{report}");
    assert_eq!(report["target"], target.as_str(), "{report}");
    assert_eq!(report["checksum_verified"], true, "{report}");
    assert_eq!(report["sha256"], backup["sha256"], "{report}");
    assert_eq!(report["tables"], 6, "{report}");
    assert_eq!(report["rows"].as_i64(), Some(total_rows(&source_counts)), "{report}");
    assert_eq!(report["previous_database"], serde_json::Value::Null, "{report}");
    assert_eq!(report["previous_dropped"], false, "{report}");
    assert!(
        report["origin"].as_str().is_some_and(|o| o.starts_with("local:")),
        "{report}"
    );

    assert!(database_exists(&target));
    assert_eq!(
        env.databases("__"),
        vec![target.clone()],
        "the copy restored aside was renamed to the target"
    );
    assert_eq!(table_counts(&target), source_counts);
    let source_content = content_digest(source);
    let objects = &source_content.last().expect("the large objects' digest").1;
    assert_eq!(objects.split(',').count(), 2, "the seed's two large objects: {objects}");
    assert_eq!(content_digest(&target), source_content);
    let source_schema = schema_dump(source);
    for needle in [
        "CREATE TABLE \"Sales\".\"Order Lines\"",
        "CREATE TABLE ventes.\"données_été\"",
        "CREATE MATERIALIZED VIEW public.user_counts",
        "ATTACH PARTITION public.measurements_2026",
        "CREATE EXTENSION IF NOT EXISTS citext",
        "COMMENT ON TABLE public.users",
    ] {
        assert!(
            source_schema.contains(needle),
            "`{needle}` is missing from the source's schema dump:\n{source_schema}"
        );
    }
    assert_same_schema(&source_schema, &schema_dump(&target));

    drop_database_quietly(&target);
    assert!(env.databases("__").is_empty());
}

#[test]
fn default_restore_swaps_the_backup_in_and_keeps_the_previous_database() {
    let env = RestoreEnv::local();
    env.db.execute(&seed());
    let db = env.db.name();
    let backed_up = table_counts(db);
    let backed_up_content = content_digest(db);
    env.backup();
    env.db.execute(
        "INSERT INTO users (email) VALUES ('late@example.com'); \
         DELETE FROM \"Sales\".\"Order Lines\" WHERE \"Id\" <= 10; \
         CREATE TABLE after_backup AS SELECT 1 AS x;",
    );
    let modified = table_counts(db);
    assert_ne!(modified, backed_up);

    // An idle session on the target, as an application would hold.
    let mut held = env.db.client();
    held.simple_query("SELECT 1")
        .expect("the held session works before the restore");

    let report = env.restore(&[]);

    assert_eq!(report["target"], db, "{report}");
    let previous = report["previous_database"]
        .as_str()
        .unwrap_or_else(|| panic!("the previous database is named: {report}"))
        .to_owned();
    assert!(previous.starts_with(&format!("{db}__pre_restore_")), "{previous}");
    assert_eq!(report["previous_dropped"], false, "{report}");
    assert!(
        report["sessions_ended"].as_u64().is_some_and(|n| n >= 1),
        "the held session was ended: {report}"
    );
    assert!(
        held.simple_query("SELECT 1").is_err(),
        "the held session must have been terminated by the swap"
    );
    // The target is the backup again, and accepts connections; the previous contents are kept, reachable too.
    assert_eq!(table_counts(db), backed_up);
    assert_eq!(content_digest(db), backed_up_content);
    assert_eq!(table_counts(&previous), modified);
    assert_eq!(env.databases("__"), vec![previous.clone()], "no copy is left aside");
    drop_database_quietly(&previous);

    // --drop-previous: the same swap, and the previous database is gone afterwards.
    env.db.execute("INSERT INTO users (email) VALUES ('later@example.com')");
    let report = env.restore(&["--drop-previous"]);
    assert_eq!(report["previous_dropped"], true, "{report}");
    let dropped = report["previous_database"]
        .as_str()
        .expect("previous_database")
        .to_owned();
    assert!(dropped.starts_with(&format!("{db}__pre_restore_")), "{dropped}");
    assert!(!database_exists(&dropped));
    assert!(env.databases("__").is_empty(), "{:?}", env.databases("__"));
    assert_eq!(table_counts(db), backed_up);
}

#[test]
fn parallel_jobs_restore_through_a_spool_file_that_is_removed() {
    let env = RestoreEnv::local();
    env.db.execute(&seed());
    let source = env.db.name();
    let backup = env.backup();
    // A directory that does not exist yet: only the spool path creates it.
    let spool = env.ctx.home().join("spool").join("nested");
    let target = env.copy_name("jobs");

    let report = env.restore(&[
        "--jobs",
        "2",
        "--spool-dir",
        spool.to_str().expect("UTF-8 path"),
        "--to",
        &target,
    ]);

    assert_eq!(report["backup"], backup["name"], "{report}");
    assert_eq!(report["checksum_verified"], true, "{report}");
    assert_eq!(table_counts(&target), table_counts(source));
    assert_eq!(content_digest(&target), content_digest(source));
    assert!(spool.is_dir(), "the spool directory was created for the spool file");
    let left: Vec<_> = std::fs::read_dir(&spool)
        .expect("read the spool directory")
        .map(|entry| entry.expect("entry").file_name())
        .collect();
    assert!(left.is_empty(), "the spool file is removed: {left:?}");
    assert_eq!(env.databases("__"), vec![target.clone()]);
    drop_database_quietly(&target);
}
