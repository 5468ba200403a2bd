//! A database of its own for each test, in the shared cluster ([`super::pg()`]), and readable SQL errors.

use super::postgres::PgCluster;
use super::unique_suffix;

/// A database of its own for one test: `t_<pid>_<n>`, created with the guard and dropped (`WITH (FORCE)`) with it.
pub struct TestDb {
    cluster: &'static PgCluster,
    name: String,
}

impl TestDb {
    /// Creates `t_<pid>_<n>` in `cluster`.
    pub(super) fn create(cluster: &'static PgCluster) -> Self {
        let name = format!("t_{}", unique_suffix('_'));
        cluster.execute("postgres", &format!("CREATE DATABASE \"{name}\""));
        Self { cluster, name }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn cluster(&self) -> &'static PgCluster {
        self.cluster
    }

    /// See [`PgCluster::url`].
    pub fn url(&self) -> String {
        self.cluster.url(&self.name)
    }

    pub fn client(&self) -> postgres::Client {
        self.cluster.client(&self.name)
    }

    /// See [`PgCluster::execute`].
    pub fn execute(&self, sql: &str) {
        self.cluster.execute(&self.name, sql);
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        // No panic here: this may run while a failed test unwinds.
        if let Err(e) = self
            .cluster
            .try_client("postgres")
            .and_then(|mut client| client.batch_execute(&sql))
        {
            eprintln!("test harness: {sql} failed: {}", describe(&e));
        }
    }
}

/// The server's full error (severity, code, message, detail, hint) rather than just "db error".
pub fn describe(error: &postgres::Error) -> String {
    use std::fmt::Write as _;
    let Some(db) = error.as_db_error() else {
        return error.to_string();
    };
    let mut text = format!("{} {}: {}", db.severity(), db.code().code(), db.message());
    if let Some(detail) = db.detail() {
        let _ = write!(text, "\nDETAIL: {detail}");
    }
    if let Some(hint) = db.hint() {
        let _ = write!(text, "\nHINT: {hint}");
    }
    text
}
