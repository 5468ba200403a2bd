//! Which relations a maintenance command works on: `--table`, `--schema`, `--exclude-schema` (and `--index` for
//! reindex), resolved against the catalog.
//!
//! Names follow SQL's rules, as in vacuumdb and reindexdb: unquoted names are folded to lower case, and a name with
//! capitals, spaces or quotes is written quoted (`--table 'public."Order Lines"'`). The server resolves them
//! (`to_regclass`, `parse_ident`); the statements campctl runs are then built from the catalog's names, always
//! quoted, never from the text the user typed. The rules themselves (and `--schema`, which `stats` shares) live in
//! `pg::names`.

use clap::Args;
use tokio_postgres::Client;

use crate::exit::{ExitStatus, UserError};
use crate::pg::names::{name_error, resolve_schemas};
use crate::pg::quote_ident;

/// `--table`, `--schema`, `--exclude-schema`.
#[derive(Debug, Args, Clone, Default)]
pub struct ScopeArgs {
    /// Only this table (repeatable); SQL name rules, e.g. `users`, `'public."Order Lines"'`; vacuum also takes
    /// columns for ANALYZE: `public.users(email,name)`
    #[arg(long = "table", short = 't', value_name = "TABLE[(COL,…)]")]
    pub tables: Vec<String>,

    /// Only tables in this schema (repeatable; SQL name rules: quote capitals, `'"Sales"'`)
    #[arg(long = "schema", value_name = "SCHEMA")]
    pub schemas: Vec<String>,

    /// Leave out tables in this schema (repeatable)
    #[arg(long = "exclude-schema", value_name = "SCHEMA")]
    pub exclude_schemas: Vec<String>,
}

/// A table (or materialized view) in scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Relation {
    pub oid: u32,
    pub schema: String,
    pub name: String,
    /// `r`, `m` or `p`.
    pub kind: char,
    /// Column names from the catalog (only with `--table T(cols)`).
    pub columns: Vec<String>,
}

impl Relation {
    /// `"schema"."name"`, quoted for SQL.
    pub(crate) fn quoted(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }

    /// `schema.name` for people.
    pub(crate) fn display(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    /// ` ("a", "b")` when columns were given, else empty.
    pub(crate) fn column_list(&self) -> String {
        if self.columns.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = self.columns.iter().map(|c| quote_ident(c)).collect();
            format!(" ({})", quoted.join(", "))
        }
    }
}

/// Splits `name(col, col)` at the first `(` outside double quotes.
pub(crate) fn split_columns(spec: &str) -> Result<(&str, Vec<&str>), UserError> {
    let mut quoted = false;
    for (i, c) in spec.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '(' if !quoted => {
                let inner = spec[i + 1..].trim_end();
                let Some(inner) = inner.strip_suffix(')') else {
                    return Err(
                        UserError::usage(format!("`{spec}`: the column list has no closing `)`"))
                            .with_hint("Write `--table 'users(email, name)'`"),
                    );
                };
                let columns = split_outside_quotes(inner, ',')
                    .into_iter()
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .collect();
                return Ok((spec[..i].trim(), columns));
            }
            _ => {}
        }
    }
    Ok((spec.trim(), Vec::new()))
}

fn split_outside_quotes(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut quoted, mut start) = (false, 0);
    for (i, c) in text.char_indices() {
        if c == '"' {
            quoted = !quoted;
        } else if c == separator && !quoted {
            parts.push(&text[start..i]);
            start = i + c.len_utf8();
        }
    }
    parts.push(&text[start..]);
    parts
}

/// What the name of a relation did not resolve to.
fn not_found(what: &str, spec: &str) -> anyhow::Error {
    UserError::new(ExitStatus::NotFound, format!("{what} `{spec}` does not exist"))
        .with_hint(
            "Names follow SQL: unquoted names are folded to lower case; quote others, e.g. \
             `--table 'public.\"Order Lines\"'`. `campctl stats tables` lists the tables",
        )
        .into()
}

/// Resolves a relation name (SQL syntax, search_path applies) to an oid.
///
/// # Errors
/// Exit 10 when it does not exist, exit 2 when the name is not valid SQL.
pub(crate) async fn resolve_relation(
    client: &Client,
    spec: &str,
    what: &str,
) -> anyhow::Result<(u32, String, String, char)> {
    let row = client
        .query_opt(
            "SELECT c.oid, n.nspname::text, c.relname::text, c.relkind::text \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)",
            &[&spec],
        )
        .await
        .map_err(|err| name_error(err, spec))?;
    let Some(row) = row else {
        return Err(not_found(what, spec));
    };
    let kind: String = row.get(3);
    Ok((row.get(0), row.get(1), row.get(2), kind.chars().next().unwrap_or('?')))
}

/// Checks that every named schema exists (see [`resolve_schemas`], shared with `stats --schema`).
///
/// # Errors
/// See [`resolve_schemas`].
pub(crate) async fn check_schemas(client: &Client, schemas: &[String]) -> anyhow::Result<()> {
    resolve_schemas(client, schemas).await.map(drop)
}

/// The tables in scope: the `--table`s, else every table and materialized view of the database outside the system
/// schemas, narrowed by `--schema` / `--exclude-schema`.
///
/// # Errors
/// A missing table, column or schema (exit 10), an invalid name (exit 2).
pub(crate) async fn tables(client: &Client, scope: &ScopeArgs) -> anyhow::Result<Vec<Relation>> {
    let schemas = resolve_schemas(client, &scope.schemas).await?;
    let exclude_schemas = resolve_schemas(client, &scope.exclude_schemas).await?;
    if !scope.tables.is_empty() {
        if !scope.schemas.is_empty() || !scope.exclude_schemas.is_empty() {
            return Err(
                UserError::usage("--table cannot be combined with --schema or --exclude-schema")
                    .with_hint("Qualify the table instead: `--table 'sales.orders'`")
                    .into(),
            );
        }
        let mut relations = Vec::new();
        for spec in &scope.tables {
            let (name, columns) = split_columns(spec)?;
            let (oid, schema, relname, kind) = resolve_relation(client, name, "Table").await?;
            if !matches!(kind, 'r' | 'm' | 'p') {
                return Err(UserError::usage(format!(
                    "`{name}` is not a table or materialized view (relkind `{kind}`)"
                ))
                .into());
            }
            let mut resolved = Vec::new();
            for column in columns {
                let row = client
                    .query_opt(
                        "SELECT attname::text FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 \
                         AND NOT attisdropped AND attname = (parse_ident($2))[1]",
                        &[&oid, &column],
                    )
                    .await
                    .map_err(|err| name_error(err, column))?;
                match row {
                    Some(row) => resolved.push(row.get(0)),
                    None => return Err(not_found("Column", &format!("{schema}.{relname}.{column}"))),
                }
            }
            let relation = Relation {
                oid,
                schema,
                name: relname,
                kind,
                columns: resolved,
            };
            if !relations.iter().any(|r: &Relation| r.oid == relation.oid) {
                relations.push(relation);
            }
        }
        return Ok(relations);
    }
    let rows = client
        .query(
            "SELECT c.oid, n.nspname::text, c.relname::text, c.relkind::text \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
               AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%' \
               AND (cardinality($1::text[]) = 0 OR n.nspname = ANY($1)) AND NOT (n.nspname = ANY($2)) \
             ORDER BY c.relpages DESC, n.nspname, c.relname",
            &[&schemas, &exclude_schemas],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| Relation {
            oid: row.get(0),
            schema: row.get(1),
            name: row.get(2),
            kind: row.get::<_, String>(3).chars().next().unwrap_or('r'),
            columns: Vec::new(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::split_columns;

    #[test]
    fn column_lists_split_outside_quotes() {
        assert_eq!(split_columns("users").expect("ok"), ("users", vec![]));
        assert_eq!(
            split_columns("public.users(email, \"Display, Name\")").expect("ok"),
            ("public.users", vec!["email", "\"Display, Name\""])
        );
        assert_eq!(split_columns("\"a(b\"(c)").expect("ok"), ("\"a(b\"", vec!["c"]));
        assert!(split_columns("users(email").is_err());
    }
}
