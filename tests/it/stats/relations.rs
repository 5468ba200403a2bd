//! The relation sections on a seeded database (`tables`, `indexes`, `vacuum`), their CSV and the `[stats]`
//! defaults from campctl.toml: every figure compared with what the server reports.

use super::{find, float, int, scalar, seed, stats_json};
use crate::common::TestContext;
use crate::common::assert_exit;

#[test]
fn tables_show_exact_sizes_tuples_and_partitions() {
    let ctx = TestContext::new();
    let db = ctx.db();
    seed(&db);
    let mut client = db.client();
    let report = stats_json(&ctx, &db, &["tables"]);
    let tables = &report["tables"];

    let bloat = find(tables, "table", "bloat");
    assert_eq!(bloat["schema"], "public");
    assert_eq!(bloat["kind"], "table");
    assert_eq!(bloat["partitions"], serde_json::Value::Null);
    assert_eq!(int(bloat, "live_tuples"), 750);
    assert_eq!(int(bloat, "dead_tuples"), 250);
    assert!((float(bloat, "dead_percent") - 25.0).abs() < 1e-9, "{bloat:#}");
    assert_eq!(
        int(bloat, "total_bytes"),
        scalar(&mut client, "SELECT pg_total_relation_size('bloat')")
    );
    assert_eq!(
        int(bloat, "index_bytes"),
        scalar(&mut client, "SELECT pg_indexes_size('bloat')")
    );
    let toast = scalar(
        &mut client,
        "SELECT pg_total_relation_size(reltoastrelid) FROM pg_class WHERE oid = 'bloat'::regclass",
    );
    assert_eq!(int(bloat, "toast_bytes"), toast);
    assert_eq!(
        int(bloat, "table_bytes"),
        scalar(&mut client, "SELECT pg_table_size('bloat')") - toast
    );
    let seq_scans = scalar(
        &mut client,
        "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'bloat'",
    );
    assert_eq!(int(bloat, "seq_scans"), seq_scans);
    assert_eq!(bloat["last_vacuum"], serde_json::Value::Null, "never vacuumed");

    // The partitioned table is one row, summed over its partitions, which are not listed on their own.
    let events = find(tables, "table", "events");
    assert_eq!(events["kind"], "partitioned");
    assert_eq!(int(events, "partitions"), 2);
    assert_eq!(int(events, "live_tuples"), 600);
    let partitions_total = scalar(
        &mut client,
        "SELECT sum(pg_total_relation_size(relid))::int8 FROM pg_partition_tree('events') WHERE isleaf",
    );
    assert_eq!(int(events, "total_bytes"), partitions_total);
    let names: Vec<&str> = tables
        .as_array()
        .expect("array")
        .iter()
        .map(|t| t["table"].as_str().expect("name"))
        .collect();
    assert!(!names.iter().any(|name| name.starts_with("events_")), "{names:?}");
    assert!(names.contains(&"side"), "every non-system schema by default: {names:?}");
    assert!(
        !tables
            .as_array()
            .expect("array")
            .iter()
            .any(|t| t["schema"] == "pg_catalog")
    );

    // Largest first.
    let totals: Vec<i64> = tables
        .as_array()
        .expect("array")
        .iter()
        .map(|t| int(t, "total_bytes"))
        .collect();
    assert!(totals.windows(2).all(|pair| pair[0] >= pair[1]), "{totals:?}");

    let only_other = stats_json(&ctx, &db, &["tables", "--schema", "other"]);
    assert_eq!(only_other["schemas"], serde_json::json!(["other"]));
    let only_other = only_other["tables"].as_array().expect("array");
    assert_eq!(only_other.len(), 1, "{only_other:#?}");
    assert_eq!(only_other[0]["table"], "side");

    let limited = stats_json(&ctx, &db, &["tables", "--limit", "2"]);
    assert_eq!(limited["tables"].as_array().expect("array").len(), 2);
    assert_eq!(limited["tables"][0]["table"], tables[0]["table"]);
}

#[test]
fn indexes_flag_unused_duplicate_and_invalid() {
    let ctx = TestContext::new();
    let db = ctx.db();
    seed(&db);
    let mut client = db.client();
    // A unique index built concurrently over duplicate values fails and stays behind, INVALID.
    let failed = client.batch_execute("CREATE UNIQUE INDEX CONCURRENTLY dupes_x ON dupes (x)");
    assert!(failed.is_err(), "the unique index must fail on duplicates");

    let report = stats_json(&ctx, &db, &["indexes"]);
    let indexes = &report["indexes"];
    let payload = find(indexes, "index", "bloat_payload");
    assert_eq!(
        (payload["unused"].as_bool(), payload["duplicate_of"].as_str()),
        (Some(true), None)
    );
    let again = find(indexes, "index", "bloat_payload_again");
    assert_eq!(
        (again["unused"].as_bool(), again["duplicate_of"].as_str()),
        (Some(true), Some("bloat_payload"))
    );
    let pkey = find(indexes, "index", "bloat_pkey");
    assert_eq!(
        (pkey["primary"].as_bool(), pkey["unused"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(pkey["constraint"], true);
    let invalid = find(indexes, "index", "dupes_x");
    assert_eq!(
        (invalid["invalid"].as_bool(), invalid["valid"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(invalid["unused"], false, "a unique index is never `unused`");
    let size = scalar(&mut client, "SELECT pg_relation_size('bloat_payload')");
    assert_eq!(int(payload, "size_bytes"), size);

    // Partitioned parents' indexes have no storage and are not listed; their partitions' indexes are.
    let names: Vec<&str> = indexes
        .as_array()
        .expect("array")
        .iter()
        .map(|i| i["index"].as_str().expect("name"))
        .collect();
    assert!(!names.contains(&"events_id"), "{names:?}");
    assert_eq!(
        names.iter().filter(|name| name.starts_with("events_2024")).count(),
        2,
        "{names:?}"
    );

    let summary = &report["summary"];
    let unused_bytes = scalar(
        &mut client,
        "SELECT sum(pg_relation_size(indexrelid))::int8 FROM pg_stat_user_indexes
         WHERE indexrelname IN ('bloat_payload', 'bloat_payload_again')
            OR indexrelname LIKE 'events_2024%'",
    );
    assert_eq!(
        (
            int(summary, "total"),
            int(summary, "unused"),
            int(summary, "invalid"),
            int(summary, "duplicate")
        ),
        (6, 4, 1, 1),
        "{summary:#}"
    );
    assert_eq!(int(summary, "unused_bytes"), unused_bytes);

    let table = ctx
        .cmd()
        .args(["--db-url", &db.url(), "stats", "indexes"])
        .output()
        .expect("run campctl");
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("unused duplicate"), "{text}");
    assert!(text.contains("unique INVALID"), "{text}");
    assert!(text.contains("6 indexes: 4 unused"), "{text}");
}

#[test]
fn vacuum_judges_dead_tuples_against_the_autovacuum_threshold() {
    let ctx = TestContext::new();
    let db = ctx.db();
    seed(&db);
    let mut client = db.client();
    let settings = client
        .query_one(
            "SELECT current_setting('autovacuum_vacuum_threshold')::float8,
                    current_setting('autovacuum_vacuum_scale_factor')::float8,
                    current_setting('autovacuum_freeze_max_age')::int8,
                    (SELECT greatest(reltuples, 0)::float8 FROM pg_class WHERE oid = 'bloat'::regclass),
                    (SELECT greatest(reltuples, 0)::float8 FROM pg_class WHERE oid = 'tuned'::regclass)",
            &[],
        )
        .expect("read the settings");
    let (threshold, scale, freeze_max_age): (f64, f64, i64) = (settings.get(0), settings.get(1), settings.get(2));
    let (bloat_tuples, tuned_tuples): (f64, f64) = (settings.get(3), settings.get(4));
    let xid_before = scalar(
        &mut client,
        "SELECT age(datfrozenxid)::int8 FROM pg_database WHERE datname = current_database()",
    );

    let report = stats_json(&ctx, &db, &["vacuum"]);
    let xid_after = scalar(
        &mut client,
        "SELECT age(datfrozenxid)::int8 FROM pg_database WHERE datname = current_database()",
    );
    assert_eq!(report["autovacuum"], true);
    assert_eq!(int(&report, "autovacuum_freeze_max_age"), freeze_max_age);

    let bloat = find(&report["tables"], "table", "bloat");
    assert_eq!((int(bloat, "live_tuples"), int(bloat, "dead_tuples")), (750, 250));
    assert!(
        (float(bloat, "autovacuum_threshold") - (threshold + scale * bloat_tuples)).abs() < 1e-6,
        "{bloat:#}"
    );
    assert_eq!(bloat["over_threshold"], 250.0 > threshold + scale * bloat_tuples);
    assert_eq!(
        bloat["autovacuum_enabled"], false,
        "autovacuum_enabled = false on the table"
    );
    // The table's own reloptions: 300 + 0.5 × reltuples.
    let tuned = find(&report["tables"], "table", "tuned");
    assert!(
        (float(tuned, "autovacuum_threshold") - (300.0 + 0.5 * tuned_tuples)).abs() < 1e-6,
        "{tuned:#}"
    );
    assert_eq!(tuned["over_threshold"], false);
    let dead: Vec<i64> = report["tables"]
        .as_array()
        .expect("array")
        .iter()
        .map(|t| int(t, "dead_tuples"))
        .collect();
    assert_eq!(dead, vec![250, 250], "only tables with dead tuples, most first");

    let this = find(&report["databases"], "database", db.name());
    let age = int(this, "xid_age");
    assert!(
        (xid_before..=xid_after).contains(&age),
        "{xid_before} <= {age} <= {xid_after}"
    );
    assert_eq!(int(this, "wraparound_margin"), 2_147_483_647 - age);
    let expected_percent = age as f64 * 100.0 / freeze_max_age as f64;
    assert!((float(this, "freeze_max_age_percent") - expected_percent).abs() < 1e-9);
    let oldest = report["oldest_tables"].as_array().expect("array");
    assert!(oldest.iter().any(|t| t["table"] == "bloat"), "{oldest:#?}");
    assert!(report["workers"].is_array());
}

#[test]
fn tables_csv_is_the_first_table_with_a_header_row() {
    let ctx = TestContext::new();
    let db = ctx.db();
    seed(&db);
    let output = ctx
        .cmd()
        .args([
            "--db-url",
            &db.url(),
            "--format",
            "csv",
            "stats",
            "tables",
            "--schema",
            "public",
        ])
        .output()
        .expect("run");
    assert_exit(&output, 0);
    let csv = String::from_utf8_lossy(&output.stdout);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("schema,table,total_bytes,table_bytes,index_bytes,toast_bytes,live_tuples,dead_tuples,dead_percent")
    );
    let total = scalar(&mut db.client(), "SELECT pg_total_relation_size('bloat')");
    let bloat = csv
        .lines()
        .find(|line| line.starts_with("public,bloat,"))
        .unwrap_or_else(|| panic!("{csv}"));
    assert!(bloat.starts_with(&format!("public,bloat,{total},")), "{bloat}");
    assert!(bloat.ends_with(",750,250,25"), "{bloat}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("CSV holds the"),
        "the note says what CSV holds"
    );
}

#[test]
fn the_configuration_file_sets_the_defaults() {
    let ctx = TestContext::new();
    let db = ctx.db();
    seed(&db);
    ctx.write_file("campctl.toml", "[stats]\nlimit = 1\nmin_duration = \"90s\"\n");
    assert_eq!(
        stats_json(&ctx, &db, &["tables"])["tables"]
            .as_array()
            .expect("array")
            .len(),
        1
    );
    assert_eq!(
        stats_json(&ctx, &db, &["tables", "--limit", "3"])["tables"]
            .as_array()
            .expect("array")
            .len(),
        3
    );
    let queries = stats_json(&ctx, &db, &["queries"]);
    assert!(
        (float(&queries, "min_duration_seconds") - 90.0).abs() < 1e-9,
        "{queries:#}"
    );
}

#[test]
fn a_schema_that_does_not_exist_exits_10() {
    let ctx = TestContext::new();
    let db = ctx.db();
    db.execute(r#"CREATE SCHEMA "Sales"; CREATE TABLE "Sales".t (id int)"#);
    // SQL name rules, as in `vacuum --schema`: unquoted `Sales` folds to `sales`, which does not exist; every missing
    // schema is named, as typed.
    let output = ctx
        .cmd()
        .args([
            "--db-url",
            &db.url(),
            "stats",
            "tables",
            "--schema",
            "Sales",
            "--schema",
            "sales",
            "--schema",
            "nope",
        ])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(10));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("Schemas `Sales`, `sales`, `nope` do not exist"),
        "{stderr}"
    );
    // An injection-shaped text is not a schema name in SQL: a usage error, and nothing was run.
    let output = ctx
        .cmd()
        .args([
            "--db-url",
            &db.url(),
            "stats",
            "tables",
            "--schema",
            "x'; DROP SCHEMA \"Sales\"; --",
        ])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    // The quoted, mixed-case schema exists and was neither misread nor touched by the injection-shaped name.
    let output = ctx
        .cmd()
        .args([
            "--db-url",
            &db.url(),
            "--format",
            "json",
            "stats",
            "tables",
            "--schema",
            r#""Sales""#,
        ])
        .output()
        .expect("run");
    assert_exit(&output, 0);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(json["schemas"], serde_json::json!(["Sales"]));
    assert_eq!(json["tables"][0]["schema"], "Sales");
    // Unquoted capitals fold, and a schema named twice (in two spellings) is listed once.
    let output = ctx
        .cmd()
        .args([
            "--db-url",
            &db.url(),
            "--format",
            "json",
            "stats",
            "tables",
            "--schema",
            "PUBLIC",
            "--schema",
            "public",
        ])
        .output()
        .expect("run");
    assert_exit(&output, 0);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(json["schemas"], serde_json::json!(["public"]));
}
