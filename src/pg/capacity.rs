//! How many more connections the server lets this role open: the one number that `vacuum`, `reindex` and
//! `restore --jobs` size their parallel sessions by.
//!
//! Opening more sessions than the server has free locks every other client out (`max_connections` reached) and
//! then fails with "too many clients" or "too many connections for role"; so campctl asks first and opens fewer.
//! Three limits apply, and the smallest wins: the server's `max_connections` less the slots reserved for
//! superusers and the client backends already connected; the role's `CONNECTION LIMIT` (`rolconnlimit`, not
//! enforced for superusers); and, when the sessions go to one known database, that database's `CONNECTION LIMIT`.
//! The answer is a snapshot: other clients may connect a moment later, which is why callers leave some slack.

use tokio_postgres::Client;

/// Free connection slots for the current role, now.
///
/// `database` adds that database's own connection limit (the database the new sessions will open); `None` when
/// they go to a database that does not exist yet (a restore's new copy has no limit).
///
/// # Errors
/// The query failed.
pub async fn free_connections(client: &Client, database: Option<&str>) -> Result<i64, tokio_postgres::Error> {
    let row = client
        .query_one(
            "SELECT current_setting('max_connections')::int \
                    - current_setting('superuser_reserved_connections')::int \
                    - (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'), \
                    (SELECT CASE WHEN r.rolsuper OR r.rolconnlimit < 0 THEN NULL \
                                 ELSE r.rolconnlimit - (SELECT count(*) FROM pg_stat_activity \
                                                        WHERE usename = r.rolname \
                                                          AND backend_type = 'client backend') END \
                     FROM pg_roles r WHERE r.rolname = current_user), \
                    (SELECT CASE WHEN d.datconnlimit < 0 THEN NULL \
                                 ELSE d.datconnlimit - (SELECT count(*) FROM pg_stat_activity \
                                                        WHERE datid = d.oid \
                                                          AND backend_type = 'client backend') END \
                     FROM pg_database d WHERE d.datname = $1)",
            &[&database],
        )
        .await?;
    let server: i64 = row.get(0);
    let role: Option<i64> = row.get(1);
    let database: Option<i64> = row.get(2);
    Ok([Some(server), role, database]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(server))
}
