//! Quoting for the two languages campctl writes for PostgreSQL: SQL (identifiers and string literals) and libpq
//! connection strings (`key='value'`). This is the one home of all three; nothing else in campctl escapes a quote.
//!
//! Every identifier or value a user gives (a database, schema or table name, a locale read from the catalog) goes
//! through one of these before it is spliced into text; where a statement accepts bind parameters (`$1`), those are
//! used instead and nothing here is needed. These functions must never be "smart": no check whether quoting is
//! needed, no case folding, no trimming. They quote everything, always, so that the output means exactly the input.

/// Quotes an identifier for SQL: `a"b` becomes `"a""b"`. Every identifier a user gives goes through this.
#[must_use]
pub fn quote_ident(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Quotes a SQL string literal: `it's` becomes `'it''s'`. A value with a backslash is written as an escape string
/// (`E'a\\b'`, backslashes doubled), as libpq's `PQescapeLiteral` does, so the literal means the same whatever
/// `standard_conforming_strings` is set to.
#[must_use]
pub fn quote_literal(text: &str) -> String {
    let quoted = text.replace('\'', "''");
    if text.contains('\\') {
        format!("E'{}'", quoted.replace('\\', "\\\\"))
    } else {
        format!("'{quoted}'")
    }
}

/// Quotes a value of a libpq connection string (`dbname=…` in a child's argument): `'…'` with `\` and `'` escaped by
/// a backslash, so that a database name holding `=`, spaces or quotes is taken literally and never parsed as
/// further keywords.
#[must_use]
pub fn quote_conninfo_value(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_always_quoted_and_quotes_doubled() {
        assert_eq!(quote_ident("plain"), "\"plain\"");
        assert_eq!(quote_ident("Mixed Case"), "\"Mixed Case\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_ident(""), "\"\"");
        assert_eq!(quote_ident("ü.日本"), "\"ü.日本\"");
    }

    #[test]
    fn malicious_identifiers_stay_one_identifier() {
        let evil = "x\"; DROP DATABASE prod; --";
        let quoted = quote_ident(evil);
        assert_eq!(quoted, "\"x\"\"; DROP DATABASE prod; --\"");
        // Inside the outer quotes every quote is doubled: the identifier cannot end early.
        let inner = &quoted[1..quoted.len() - 1];
        assert_eq!(inner.replace("\"\"", ""), inner.replace('"', ""));
        assert_eq!(quote_ident("\"\"\""), "\"\"\"\"\"\"\"\"");
    }

    #[test]
    fn literals_double_single_quotes() {
        assert_eq!(quote_literal("en_US.UTF-8"), "'en_US.UTF-8'");
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal(""), "''");
        assert_eq!(quote_literal("x'; DROP TABLE t; --"), "'x''; DROP TABLE t; --'");
    }

    #[test]
    fn literals_with_backslashes_are_escape_strings() {
        // With standard_conforming_strings off, `'\'` would escape the closing quote; `E'\\'` cannot.
        assert_eq!(quote_literal("a\\b"), "E'a\\\\b'");
        assert_eq!(quote_literal("\\'; DROP TABLE t; --"), "E'\\\\''; DROP TABLE t; --'");
        assert_eq!(quote_literal("\\"), "E'\\\\'");
    }

    #[test]
    fn conninfo_values_are_literal() {
        assert_eq!(quote_conninfo_value("a b"), "'a b'");
        assert_eq!(quote_conninfo_value("it's\\x=1"), "'it\\'s\\\\x=1'");
        assert_eq!(quote_conninfo_value("x' host=evil.example"), "'x\\' host=evil.example'");
    }
}
