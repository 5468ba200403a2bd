//! The names of the databases a restore creates beside its target: `<db>__restore_<YYYYMMDD_HHMMSS>` (the new copy),
//! `<db>__pre_restore_…` (the previous database, kept aside) and `<db>__test_restore_…_<pid>` (test-restore's
//! scratch copy), shortened by whole characters to fit PostgreSQL's 63-byte identifiers.
//!
//! This file only makes names; it must never check, create or drop a database (that is `crate::pg::database`).

/// `<db><tag><YYYYMMDD_HHMMSS>`, shortened so it fits PostgreSQL's 63-byte identifiers.
pub(crate) fn derived_name(database: &str, tag: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    fit(database, &format!("{tag}{}", now.format("%Y%m%d_%H%M%S")))
}

/// [`derived_name`] with this process's id after the timestamp, for names that two runs may want in one second.
pub(crate) fn unique_derived_name(database: &str, tag: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    fit(
        database,
        &format!("{tag}{}_{}", now.format("%Y%m%d_%H%M%S"), std::process::id()),
    )
}

/// `database` + `suffix`, with the database part shortened (by whole characters) to fit in 63 bytes.
fn fit(database: &str, suffix: &str) -> String {
    let mut base = database.to_string();
    while base.len() + suffix.len() > 63 {
        base.pop();
    }
    base + suffix
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_names_fit_in_63_bytes() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-29T03:00:00Z")
            .expect("a time")
            .with_timezone(&chrono::Utc);
        assert_eq!(
            derived_name("camp_backend_db", "__restore_", now),
            "camp_backend_db__restore_20261129_030000"
        );
        let long = "ü".repeat(40);
        let name = derived_name(&long, "__pre_restore_", now);
        assert!(name.len() <= 63, "{name}");
        assert!(name.ends_with("__pre_restore_20261129_030000"));
        let unique = unique_derived_name(&long, "__test_restore_", now);
        assert!(unique.len() <= 63, "{unique}");
        assert!(
            unique.ends_with(&format!("__test_restore_20261129_030000_{}", std::process::id())),
            "{unique}"
        );
    }
}
