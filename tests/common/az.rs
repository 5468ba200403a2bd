//! A stand-in `az` (Azure CLI) on PATH, for tests that use `[azure] credential = "cli"` (or the chain's last
//! member): azure_identity's `AzureCliCredential` runs `az account get-access-token -o json --scope SCOPE` through
//! `/bin/sh` and reads `{"accessToken", "expires_on", "tokenType"}` (azure-sdk-facts.md).
//!
//! The token is an unsigned JWT whose `aud` is the requested scope without `/.default` (and whose `scp` is the
//! scope itself), so that a stand-in server can check the audience ([`token_audience`]). Each call is appended to
//! `az-calls.log` in the stand-in's directory, one line of arguments, for tests that count token requests.

use std::path::{Path, PathBuf};

use base64::Engine as _;

/// The directory holding the stand-in `az`; put [`Self::bin_dir`] first on PATH.
pub struct AzCli {
    dir: PathBuf,
}

impl AzCli {
    /// An `az` that is logged in and returns a token for any scope, valid for an hour.
    pub fn logged_in(dir: &Path) -> Self {
        Self::write(dir, "")
    }

    /// An `az` that fails as one that is not logged in (`Please run 'az login'`).
    pub fn logged_out(dir: &Path) -> Self {
        Self::write(
            dir,
            "echo \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1\n",
        )
    }

    fn write(dir: &Path, prelude: &str) -> Self {
        let token = r#"now=$(date +%s)
exp=$((now + 3600))
payload=$(b64 "{\"aud\":\"$aud\",\"scp\":\"$scope\",\"iss\":\"https://sts.windows.net/00000000-0000-0000-0000-000000000000/\",\"nbf\":$now,\"exp\":$exp}")
"#;
        Self::install(dir, prelude, token)
    }

    /// Writes the stand-in: it logs its arguments, runs `prelude`, reads `--scope`/`--resource` into `$scope` and
    /// `$aud`, then runs `token`, which sets `$payload` (the JWT's claims, base64url) and `$exp`; the script prints
    /// the token response with the fixed header.
    fn install(dir: &Path, prelude: &str, token: &str) -> Self {
        let dir = dir.join("az-stand-in");
        std::fs::create_dir_all(&dir).expect("create the az stand-in directory");
        let log = dir.join("az-calls.log");
        let script = format!(
            r#"#!/bin/sh
echo "$*" >> '{log}'
{prelude}scope=""
while [ $# -gt 0 ]; do
  case "$1" in
    --scope|--resource) scope="$2"; shift 2 ;;
    *) shift ;;
  esac
done
aud="${{scope%/.default}}"
b64() {{ printf '%s' "$1" | base64 -w0 | tr -d '=' | tr '+/' '-_'; }}
{token}printf '{{"accessToken":"%s.%s.","expires_on":%s,"tokenType":"Bearer"}}\n' "$(b64 '{FIXED_HEADER}')" "$payload" "$exp"
"#,
            log = log.display()
        );
        let path = dir.join("az");
        std::fs::write(&path, script).expect("write the az stand-in");
        let mut permissions = std::fs::metadata(&path).expect("az stand-in metadata").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
        std::fs::set_permissions(&path, permissions).expect("make the az stand-in executable");
        Self { dir }
    }

    /// The directory to put first on PATH.
    pub fn bin_dir(&self) -> &Path {
        &self.dir
    }

    /// PATH with the stand-in first.
    pub fn path_env(&self) -> String {
        format!(
            "{}:{}",
            self.dir.display(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".to_string())
        )
    }

    /// The argument lines of every call so far.
    pub fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("az-calls.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// The `aud` of a bearer token made by the stand-in (`None` if it is not one).
pub fn token_audience(authorization: Option<&str>) -> Option<String> {
    let token = authorization?.strip_prefix("Bearer ")?;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("aud")?.as_str().map(str::to_owned)
}

impl AzCli {
    /// An `az` that is logged in and always returns the same token for a scope ([`fixed_token`]), with
    /// `expires_on` `lifetime_secs` from now: a PostgreSQL role can have that token as its password, and a short
    /// lifetime makes campctl fetch a new one for each session. Calls are logged as with [`Self::logged_in`].
    pub fn fixed_token(dir: &Path, lifetime_secs: u64) -> Self {
        let token = format!(
            "exp=$(( $(date +%s) + {lifetime_secs} ))\npayload=$(b64 \"{{\\\"aud\\\":\\\"$aud\\\",\\\"scp\\\":\\\"$scope\\\"}}\")\n"
        );
        Self::install(dir, "", &token)
    }
}

const FIXED_HEADER: &str = r#"{"alg":"none","typ":"JWT"}"#;

/// The token [`AzCli::fixed_token`] returns for `scope` (an unsigned JWT whose `aud` is the scope without
/// `/.default`).
pub fn fixed_token(scope: &str) -> String {
    let b64 = |text: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text);
    let audience = scope.strip_suffix("/.default").unwrap_or(scope);
    format!(
        "{}.{}.",
        b64(FIXED_HEADER),
        b64(&format!(r#"{{"aud":"{audience}","scp":"{scope}"}}"#))
    )
}
