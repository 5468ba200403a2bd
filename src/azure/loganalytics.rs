//! The Log Analytics query API: `POST {endpoint}/v1/workspaces/{workspace}/query` with `{query, timespan}` and
//! `Prefer: wait=N`, answered with typed tables.
//!
//! - `timespan` is always sent (an ISO 8601 interval, `start/end`); Log Analytics intersects it with any time filter
//!   inside the KQL.
//! - Columns are found by name ([`Table::column`]), never by position; each value is parsed by its column's type
//!   ([`ColumnType`], [`Cell`]): `datetime`, `real`, `long`, `int`, `bool`, `dynamic` (JSON, also when Log Analytics
//!   sends it as a string), `string`, `guid`, `timespan`, `decimal`.
//! - A 200 whose body carries `error` (`PartialError`: truncated or partial results) keeps its rows and says so in
//!   [`QueryResult::partial`]; the command prints the rows and a warning and exits 3 (`Printer::partial`).
//! - A 400 (a KQL syntax or semantic error) is a usage error (exit 2) with Azure's message and every nested
//!   `innererror` verbatim; 401/403 → exit 12 naming `Log Analytics Reader`; 404 → exit 10 naming the workspace;
//!   429 and 5xx are retried by the [`RestClient`] within `[azure] max_retries` / `max_retry_wait`.
//!
//! The KQL campctl builds is in [`kql`] (string literals escaped, identifiers checked).

pub mod kql;

use std::fmt::Write as _;

use azure_core::http::Method;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::rest::error::{Operation, code_and_message, status_error};
use super::rest::{RestClient, SendExtras};
use crate::exit::UserError;

/// The RBAC role a query needs, as named in a 401/403.
pub const READER_ROLE: &str = "the `Log Analytics Reader` role on the workspace (or `Reader` on its resource group)";

/// Default `Prefer: wait=` in seconds (Log Analytics allows at most 600).
pub const DEFAULT_WAIT_SECS: u32 = 180;

/// One query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryRequest {
    /// The KQL.
    pub query: String,
    /// The window, always sent as `timespan`.
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// `Prefer: wait=N` (seconds, 1–600).
    pub wait_secs: u32,
}

impl QueryRequest {
    /// The `timespan` value: `start/end`, RFC 3339 UTC with seconds.
    pub fn timespan(&self) -> String {
        format!(
            "{}/{}",
            self.from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            self.until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
    }

    /// The request body.
    pub fn body(&self) -> Value {
        serde_json::json!({ "query": self.query, "timespan": self.timespan() })
    }
}

/// A column's type as Log Analytics names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    DateTime,
    Real,
    Long,
    Int,
    Bool,
    Dynamic,
    String,
    Guid,
    Timespan,
    Decimal,
}

impl ColumnType {
    /// The type of `name` (unknown names are read as strings).
    pub fn parse(name: &str) -> Self {
        match name.to_ascii_lowercase().as_str() {
            "datetime" | "date" => Self::DateTime,
            "real" | "double" => Self::Real,
            "long" => Self::Long,
            "int" => Self::Int,
            "bool" | "boolean" => Self::Bool,
            "dynamic" => Self::Dynamic,
            "guid" | "uniqueid" => Self::Guid,
            "timespan" | "time" => Self::Timespan,
            "decimal" => Self::Decimal,
            _ => Self::String,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::DateTime => "datetime",
            Self::Real => "real",
            Self::Long => "long",
            Self::Int => "int",
            Self::Bool => "bool",
            Self::Dynamic => "dynamic",
            Self::String => "string",
            Self::Guid => "guid",
            Self::Timespan => "timespan",
            Self::Decimal => "decimal",
        }
    }
}

/// One typed value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    DateTime(DateTime<Utc>),
    Real(f64),
    /// `long` and `int`.
    Long(i64),
    Bool(bool),
    Dynamic(Value),
    /// `string`, `guid`, `decimal` (kept as text: exact) and `timespan` (`[d.]hh:mm:ss[.fffffff]`).
    Text(String),
}

impl Cell {
    /// `raw` read as a value of `kind`.
    ///
    /// # Errors
    /// When `raw` is not a value of `kind`.
    pub fn parse(kind: ColumnType, raw: &Value) -> Result<Self, String> {
        if raw.is_null() {
            return Ok(Self::Null);
        }
        let bad = || format!("`{raw}` is not a {}", kind.name());
        Ok(match kind {
            ColumnType::DateTime => {
                let text = raw.as_str().ok_or_else(bad)?;
                Self::DateTime(
                    DateTime::parse_from_rfc3339(text)
                        .map_err(|_| bad())?
                        .with_timezone(&Utc),
                )
            }
            ColumnType::Real => match raw {
                Value::Number(number) => Self::Real(number.as_f64().ok_or_else(bad)?),
                // Log Analytics sends NaN and infinities as strings.
                Value::String(text) => Self::Real(match text.as_str() {
                    "NaN" => f64::NAN,
                    "Infinity" => f64::INFINITY,
                    "-Infinity" => f64::NEG_INFINITY,
                    other => other.parse().map_err(|_| bad())?,
                }),
                _ => return Err(bad()),
            },
            ColumnType::Long | ColumnType::Int => match raw {
                Value::Number(number) => Self::Long(
                    number
                        .as_i64()
                        .or_else(|| {
                            number
                                .as_f64()
                                .filter(|value| value.fract() == 0.0 && value.abs() < 9.0e15)
                                .map(|value| value as i64)
                        })
                        .ok_or_else(bad)?,
                ),
                Value::String(text) => Self::Long(text.parse().map_err(|_| bad())?),
                _ => return Err(bad()),
            },
            ColumnType::Bool => match raw {
                Value::Bool(value) => Self::Bool(*value),
                Value::Number(number) => Self::Bool(number.as_i64() != Some(0)),
                Value::String(text) if text.eq_ignore_ascii_case("true") => Self::Bool(true),
                Value::String(text) if text.eq_ignore_ascii_case("false") => Self::Bool(false),
                _ => return Err(bad()),
            },
            // Log Analytics sends a dynamic value as a JSON string; a non-JSON string stays a string.
            ColumnType::Dynamic => match raw {
                Value::String(text) => {
                    Self::Dynamic(serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone())))
                }
                other => Self::Dynamic(other.clone()),
            },
            ColumnType::String | ColumnType::Guid | ColumnType::Timespan | ColumnType::Decimal => match raw {
                Value::String(text) => Self::Text(text.clone()),
                other => Self::Text(other.to_string()),
            },
        })
    }

    /// The value as JSON (datetimes in RFC 3339 UTC; NaN and infinities as `null`).
    pub fn to_json(&self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::DateTime(at) => Value::String(at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
            Self::Real(value) => serde_json::Number::from_f64(*value).map_or(Value::Null, Value::Number),
            Self::Long(value) => Value::from(*value),
            Self::Bool(value) => Value::Bool(*value),
            Self::Dynamic(value) => value.clone(),
            Self::Text(text) => Value::String(text.clone()),
        }
    }

    /// The value as text for a table or CSV cell (`""` for null).
    pub fn to_text(&self) -> String {
        match self {
            Self::Null => String::new(),
            Self::Text(text) | Self::Dynamic(Value::String(text)) => text.clone(),
            other => match other.to_json() {
                Value::String(text) => text,
                Value::Null => String::new(),
                value => value.to_string(),
            },
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Self::Real(value) => Some(*value),
            Self::Long(value) => Some(*value as f64),
            Self::Text(text) => text.parse().ok(),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Self::Long(value) => Some(*value),
            Self::Real(value) if value.fract() == 0.0 => Some(*value as i64),
            _ => None,
        }
    }

    pub fn as_datetime(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::DateTime(at) => Some(*at),
            _ => None,
        }
    }
}

/// One column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub kind: ColumnType,
}

/// One result table.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// The index of column `name` (exact, then without case).
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|column| column.name == name).or_else(|| {
            self.columns
                .iter()
                .position(|column| column.name.eq_ignore_ascii_case(name))
        })
    }

    /// The index of column `name`, or an error naming the columns there are.
    ///
    /// # Errors
    /// When the table has no such column.
    pub fn require(&self, name: &str) -> anyhow::Result<usize> {
        self.column(name).ok_or_else(|| {
            anyhow::anyhow!(
                "the Log Analytics result has no column `{name}` (it has {})",
                self.columns
                    .iter()
                    .map(|column| format!("`{}`", column.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    }
}

/// What a query returned.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    pub tables: Vec<Table>,
    /// `Some(Azure's error, rendered)` when a 200 carried `error` (partial results).
    pub partial: Option<String>,
}

impl QueryResult {
    /// The first table (`PrimaryResult`), or an empty one.
    pub fn primary(&self) -> Table {
        self.tables.first().cloned().unwrap_or_else(|| Table {
            name: "PrimaryResult".to_string(),
            columns: Vec::new(),
            rows: Vec::new(),
        })
    }
}

/// A Log Analytics error: `code`, `message`, nested `innererror` and `details`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct QueryError {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub innererror: Option<Box<QueryError>>,
    #[serde(default)]
    pub details: Vec<QueryError>,
    /// Where a syntax error is (`line`, `pos`), when Log Analytics says.
    #[serde(default)]
    pub line: Option<u64>,
    #[serde(default)]
    pub pos: Option<u64>,
}

impl QueryError {
    /// `` `Code`: message `` then each `innererror` and detail, verbatim.
    pub fn render(&self) -> String {
        let mut text = code_and_message(&self.code, &self.message);
        if let (Some(line), Some(pos)) = (self.line, self.pos) {
            let _ = write!(text, " (line {line}, position {pos})");
        }
        if let Some(inner) = &self.innererror {
            text.push_str("; ");
            text.push_str(&inner.render());
        }
        for detail in &self.details {
            text.push_str(" (detail: ");
            text.push_str(&detail.render());
            text.push(')');
        }
        text
    }
}

#[derive(Deserialize)]
struct RawColumn {
    name: String,
    #[serde(rename = "type", default)]
    kind: String,
}

#[derive(Deserialize)]
struct RawTable {
    #[serde(default)]
    name: String,
    #[serde(default)]
    columns: Vec<RawColumn>,
    #[serde(default)]
    rows: Vec<Vec<Value>>,
}

#[derive(Deserialize)]
struct RawAnswer {
    #[serde(default)]
    tables: Vec<RawTable>,
    #[serde(default)]
    error: Option<QueryError>,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: QueryError,
}

/// The typed result of a 200's body.
///
/// # Errors
/// When the body is not a query result, or a value does not match its column's type.
pub fn parse_answer(body: &[u8]) -> anyhow::Result<QueryResult> {
    let raw: RawAnswer = serde_json::from_slice(body).map_err(|err| {
        anyhow::anyhow!(
            "Log Analytics answered with a body campctl cannot read: {err} (body: {})",
            String::from_utf8_lossy(body).chars().take(300).collect::<String>()
        )
    })?;
    let mut tables = Vec::with_capacity(raw.tables.len());
    for table in raw.tables {
        let columns: Vec<Column> = table
            .columns
            .into_iter()
            .map(|column| Column {
                kind: ColumnType::parse(&column.kind),
                name: column.name,
            })
            .collect();
        let mut rows = Vec::with_capacity(table.rows.len());
        for (number, row) in table.rows.into_iter().enumerate() {
            if row.len() != columns.len() {
                anyhow::bail!(
                    "Log Analytics answered row {} of table `{}` with {} values for {} columns",
                    number + 1,
                    table.name,
                    row.len(),
                    columns.len()
                );
            }
            let cells = columns
                .iter()
                .zip(&row)
                .map(|(column, raw)| {
                    Cell::parse(column.kind, raw).map_err(|err| {
                        anyhow::anyhow!(
                            "Log Analytics answered row {} of table `{}`, column `{}`: {err}",
                            number + 1,
                            table.name,
                            column.name
                        )
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            rows.push(cells);
        }
        tables.push(Table {
            name: table.name,
            columns,
            rows,
        });
    }
    Ok(QueryResult {
        tables,
        partial: raw.error.map(|error| error.render()),
    })
}

/// The operation of a query of `workspace`, as named in errors.
pub fn operation(workspace: &str) -> Operation {
    Operation::new(
        format!("query the Log Analytics workspace `{workspace}`"),
        format!("Log Analytics workspace `{workspace}`"),
        READER_ROLE,
    )
    .not_found_hint(
        "Check `[logs] workspace_id` / `--workspace`: it is the workspace ID (a GUID, the workspace's \
         `customerId`), not its resource id",
    )
}

/// The error of a 400: the KQL was refused (exit 2), with Azure's message verbatim.
pub fn bad_query_error(body: &[u8], workspace: &str) -> UserError {
    let detail = serde_json::from_slice::<ErrorEnvelope>(body).map_or_else(
        |_| String::from_utf8_lossy(body).trim().chars().take(1000).collect(),
        |envelope| envelope.error.render(),
    );
    UserError::usage(format!(
        "Log Analytics refused the query of workspace `{workspace}` (HTTP 400 {detail})"
    ))
    .with_hint("Fix the KQL (run it with `--show-kql` to see what campctl sent), or the table and column names in `[logs.workspace]`")
}

/// Runs `request` on `workspace`; see the module docs.
///
/// # Errors
/// See the module docs.
pub async fn query(client: &RestClient, workspace: &str, request: &QueryRequest) -> anyhow::Result<QueryResult> {
    check_workspace_id(workspace)?;
    let url = client.url(&format!("/v1/workspaces/{workspace}/query"), "")?;
    let operation = operation(workspace);
    let extras = SendExtras {
        headers: vec![("prefer", format!("wait={}", request.wait_secs.clamp(1, 600)))],
        pass_statuses: vec![400],
    };
    let response = client
        .send_with(Method::Post, url, Some(&request.body()), &extras, &operation)
        .await?;
    if response.status == 400 {
        return Err(bad_query_error(response.body(), workspace).into());
    }
    if response.status != 200 {
        return Err(status_error(response.status, response.body(), &operation, &client.credential()).into());
    }
    parse_answer(response.body())
}

/// A workspace ID is a GUID (it goes into the URL's path).
///
/// # Errors
/// When `workspace` is not a GUID (exit 2).
pub fn check_workspace_id(workspace: &str) -> anyhow::Result<()> {
    let groups: Vec<&str> = workspace.split('-').collect();
    let lengths = [8, 4, 4, 4, 12];
    let ok = groups.len() == lengths.len()
        && groups
            .iter()
            .zip(lengths)
            .all(|(group, length)| group.len() == length && group.chars().all(|c| c.is_ascii_hexdigit()));
    if ok {
        Ok(())
    } else {
        Err(UserError::usage(format!(
            "`{workspace}` is not a Log Analytics workspace ID"
        ))
        .with_hint(
            "Give the workspace ID (a GUID such as `0b6e8a2c-3f5d-4e1a-9c7b-2d4f6a8b0c1e`: the portal's \"Workspace ID\", \
             `az monitor log-analytics workspace show --query customerId`), not its name or resource id",
        )
        .into())
    }
}

#[cfg(test)]
mod tests;
