//! Azure clouds: the endpoint and token scope of each audience campctl talks to, in one place.
//!
//! `[azure] cloud` picks one of the national clouds; `management_endpoint`, `management_scope`,
//! `loganalytics_endpoint` and `loganalytics_scope` override single values (a custom cloud, or a test server).

use url::Url;

/// A value of `[azure] cloud`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    /// Azure public cloud.
    Public,
    /// Azure China (21Vianet).
    China,
    /// Azure US Government.
    UsGov,
    /// Every endpoint and scope given in the configuration.
    Custom,
}

impl Cloud {
    /// Every accepted spelling, for error messages and docs.
    pub const NAMES: &'static [&'static str] = &["public", "china", "usgov", "custom"];

    /// Parses a configuration value (`None` for an unknown one).
    pub fn parse(text: &str) -> Option<Self> {
        Some(
            match text.trim().to_ascii_lowercase().replace(['_', ' '], "-").as_str() {
                "public" | "azure" | "azurecloud" | "azure-public" => Self::Public,
                "china" | "azurechinacloud" | "azure-china" => Self::China,
                "usgov" | "us-gov" | "azureusgovernment" | "azure-us-government" | "usgovernment" => Self::UsGov,
                "custom" => Self::Custom,
                _ => return None,
            },
        )
    }

    /// The built-in endpoints of this cloud (`None` for [`Cloud::Custom`]).
    pub fn endpoints(self) -> Option<CloudEndpoints> {
        let (management, loganalytics, postgres) = match self {
            Self::Public => (
                "https://management.azure.com",
                "https://api.loganalytics.io",
                "https://ossrdbms-aad.database.windows.net",
            ),
            Self::China => (
                "https://management.chinacloudapi.cn",
                "https://api.loganalytics.azure.cn",
                "https://ossrdbms-aad.database.chinacloudapi.cn",
            ),
            Self::UsGov => (
                "https://management.usgovcloudapi.net",
                "https://api.loganalytics.us",
                "https://ossrdbms-aad.database.usgovcloudapi.net",
            ),
            Self::Custom => return None,
        };
        Some(CloudEndpoints {
            management: Audience::new(management, &format!("{management}/.default")),
            loganalytics: Audience::new(loganalytics, &format!("{loganalytics}/.default")),
            postgres_scope: format!("{postgres}/.default"),
        })
    }
}

/// Where one audience's requests go and the scope of its tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audience {
    /// The base URL, without a trailing `/` (`https://management.azure.com`).
    pub endpoint: String,
    /// The token scope (`https://management.azure.com/.default`).
    pub scope: String,
}

impl Audience {
    pub fn new(endpoint: &str, scope: &str) -> Self {
        Self {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            scope: scope.to_string(),
        }
    }

    /// The endpoint as a URL.
    ///
    /// # Errors
    /// When it is not an `https://` URL (the bearer-token policy refuses plain HTTP).
    pub fn url(&self) -> anyhow::Result<Url> {
        let url =
            Url::parse(&self.endpoint).map_err(|err| anyhow::anyhow!("`{}` is not a URL: {err}", self.endpoint))?;
        if url.scheme() != "https" {
            anyhow::bail!(
                "`{}` is not an https:// URL (Azure tokens are only sent over TLS)",
                self.endpoint
            );
        }
        Ok(url)
    }
}

/// The audiences of one cloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudEndpoints {
    /// Azure Resource Manager: servers, backups, Monitor metrics, App Service.
    pub management: Audience,
    /// Log Analytics queries.
    pub loganalytics: Audience,
    /// The scope of an Entra ID token used as a PostgreSQL password.
    pub postgres_scope: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clouds_have_their_endpoints() {
        let public = Cloud::parse("public").and_then(Cloud::endpoints).expect("public");
        assert_eq!(public.management.endpoint, "https://management.azure.com");
        assert_eq!(public.management.scope, "https://management.azure.com/.default");
        assert_eq!(public.loganalytics.scope, "https://api.loganalytics.io/.default");
        let china = Cloud::parse("AzureChinaCloud")
            .and_then(Cloud::endpoints)
            .expect("china");
        assert_eq!(china.management.endpoint, "https://management.chinacloudapi.cn");
        let usgov = Cloud::parse("usgov").and_then(Cloud::endpoints).expect("usgov");
        assert_eq!(usgov.loganalytics.endpoint, "https://api.loganalytics.us");
        assert_eq!(Cloud::parse("custom").and_then(Cloud::endpoints), None);
        assert_eq!(Cloud::parse("mars"), None);
    }

    #[test]
    fn plain_http_is_refused() {
        assert!(Audience::new("http://127.0.0.1:1", "x/.default").url().is_err());
        assert!(Audience::new("https://127.0.0.1:1/", "x/.default").url().is_ok());
    }
}
