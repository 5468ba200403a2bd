//! JUnit XML for CI systems (GitHub Actions reporters, GitLab, Jenkins, Azure Pipelines): one `<testcase>` per check.

use std::fmt::Write as _;

use super::test_report::{CheckOutcome, TestRestoreReport};

/// Escapes text for XML attributes and content.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most control characters even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// The report as a JUnit document.
pub(super) fn render(report: &TestRestoreReport) -> String {
    let tests = report.checks.len();
    let failures = report.checks.iter().filter(|c| c.outcome == CheckOutcome::Fail).count();
    let skipped = report.checks.iter().filter(|c| c.outcome == CheckOutcome::Skip).count();
    let suite = escape(&format!("campctl test-restore {}", report.backup));
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"campctl test-restore\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" \
         skipped=\"{skipped}\" time=\"{:.3}\">",
        report.duration_seconds
    );
    let _ = writeln!(
        xml,
        "  <testsuite name=\"{suite}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" \
         time=\"{:.3}\" timestamp=\"{}\" hostname=\"{}\">",
        report.duration_seconds,
        report.started_at.format("%Y-%m-%dT%H:%M:%S"),
        escape(&report.host)
    );
    let classname = escape(&format!("test-restore.{}", report.database));
    for check in &report.checks {
        let _ = write!(
            xml,
            "    <testcase classname=\"{classname}\" name=\"{}\" time=\"{:.3}\"",
            escape(&check.name),
            check.seconds
        );
        match check.outcome {
            CheckOutcome::Pass => {
                let _ = writeln!(
                    xml,
                    ">\n      <system-out>{}</system-out>\n    </testcase>",
                    escape(&check.detail)
                );
            }
            CheckOutcome::Fail => {
                let _ = writeln!(
                    xml,
                    ">\n      <failure message=\"{}\" type=\"mismatch\">{}</failure>\n    </testcase>",
                    escape(&check.detail),
                    escape(&check.detail)
                );
            }
            CheckOutcome::Skip => {
                let _ = writeln!(
                    xml,
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                    escape(&check.detail)
                );
            }
        }
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(escape("a<b>&\"c'\u{1}"), "a&lt;b&gt;&amp;&quot;c&apos;?");
    }
}
