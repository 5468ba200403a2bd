//! Names the user types (`--schema`, `--table`, `--index`), read as SQL reads them, by the server.
//!
//! One rule for every command, as psql, vacuumdb and reindexdb apply it: an unquoted name folds to lower case, a
//! quoted one keeps its case (`--schema '"Sales"'`), and a repeated flag adds one name each time (no comma lists).
//! The server parses the text (`parse_ident`); campctl then uses the catalog's names, passed as query parameters or
//! quoted, never the text the user typed. This module never decides what a command does with the names: it only
//! resolves them and says, as a user error, which are malformed (exit 2) or missing (exit 10).

use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use crate::exit::{ExitStatus, UserError};

/// Maps what `to_regclass` / `parse_ident` say about a malformed name to a usage error (exit 2): invalid name
/// syntax, too many dotted parts (`a.b.c.d`: 42601), or a database part that is not the current database
/// (`otherdb.s.t`: 0A000, cross-database references). Any other error is passed on as it is.
pub(crate) fn name_error(err: tokio_postgres::Error, spec: &str) -> anyhow::Error {
    let malformed = [
        SqlState::INVALID_NAME,
        SqlState::INVALID_PARAMETER_VALUE,
        SqlState::SYNTAX_ERROR,
        SqlState::FEATURE_NOT_SUPPORTED,
    ];
    if err.code().is_some_and(|code| malformed.contains(code)) {
        let detail = err
            .as_db_error()
            .map_or_else(|| err.to_string(), |e| e.message().to_string());
        return UserError::usage(format!("`{spec}` is not a valid name: {detail}"))
            .with_hint(
                "Write `name` or `schema.name` (a third part in front must be the current database); quote names \
                 with capitals, spaces, dots or quotes as in SQL: `--table '\"a\"\"b\"'` for a\"b",
            )
            .into();
    }
    err.into()
}

/// Resolves `--schema` names with SQL's rules (unquoted names fold to lower case; `'"Sales"'` keeps its case) and
/// checks that each exists. Returns the catalog's names, in the order given, without repeats.
///
/// # Errors
/// Exit 2 for the first name that is not a schema name in SQL; else exit 10 naming every missing schema, as typed.
pub(crate) async fn resolve_schemas(client: &Client, schemas: &[String]) -> anyhow::Result<Vec<String>> {
    let mut resolved = Vec::with_capacity(schemas.len());
    let mut missing = Vec::new();
    for schema in schemas {
        let row = client
            .query_one(
                "SELECT p[1], cardinality(p), EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = p[1]) \
                 FROM parse_ident($1) AS p",
                &[schema],
            )
            .await
            .map_err(|err| name_error(err, schema))?;
        let (name, parts, exists): (String, i32, bool) = (row.get(0), row.get(1), row.get(2));
        if parts != 1 {
            return Err(UserError::usage(format!("`{schema}` is not a schema name")).into());
        }
        if !exists {
            missing.push(format!("`{schema}`"));
        } else if !resolved.contains(&name) {
            resolved.push(name);
        }
    }
    if !missing.is_empty() {
        let (noun, verb) = if missing.len() == 1 {
            ("Schema", "does")
        } else {
            ("Schemas", "do")
        };
        return Err(UserError::new(
            ExitStatus::NotFound,
            format!("{noun} {} {verb} not exist", missing.join(", ")),
        )
        .with_hint(
            "Names follow SQL: unquoted names fold to lower case; quote others, e.g. `--schema '\"Sales\"'` \
             (`\\dn` in psql lists the schemas)",
        )
        .into());
    }
    Ok(resolved)
}
