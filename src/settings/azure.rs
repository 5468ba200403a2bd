//! `[azure]` resolved with the environment: which cloud (endpoints and scopes), which Entra ID credential, the
//! retry bounds, and the resources campctl manages (each a name in `subscription_id`/`resource_group` or a full
//! resource id). Every command that talks to Azure Resource Manager, Monitor or Log Analytics starts here.
//!
//! Errors are usage errors (exit 2) that name the key and the file, before any request is sent.

use std::time::Duration;

use crate::azure::arm::ResourceId;
use crate::azure::credentials::{CredentialChoice, EnvLookup};
use crate::azure::rest::cloud::{Audience, Cloud, CloudEndpoints};
use crate::azure::rest::{EntraCredential, RestClient, RestOptions};
use crate::config_file::{AzureConfig, LoadedConfig};
use crate::env_vars::EnvVars;
use crate::exit::UserError;

/// `[azure]`, resolved; see the module docs.
#[derive(Debug, Clone)]
pub struct AzureSettings {
    pub cloud: Cloud,
    pub endpoints: CloudEndpoints,
    pub credential: CredentialChoice,
    pub managed_identity_client_id: Option<String>,
    pub options: RestOptions,
    pub subscription_id: Option<String>,
    pub resource_group: Option<String>,
    pub postgres_server: Option<String>,
    pub app_service: Option<String>,
    pub app_service_plan: Option<String>,
    /// The configuration file, as named in errors.
    file: String,
}

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

impl AzureSettings {
    /// `[azure]` of `config` with the process environment.
    ///
    /// # Errors
    /// A bad value, named with its key and file (exit 2).
    pub fn resolve(config: &LoadedConfig) -> anyhow::Result<Self> {
        Self::resolve_with(config, &process_env)
    }

    /// [`Self::resolve`] with the environment read through `env`.
    ///
    /// # Errors
    /// See [`Self::resolve`].
    pub fn resolve_with(config: &LoadedConfig, env: EnvLookup<'_>) -> anyhow::Result<Self> {
        let file = config.path.as_ref().map_or_else(
            || "the configuration (no campctl.toml was found)".to_string(),
            |path| format!("`{}`", path.display()),
        );
        let section: &AzureConfig = &config.sections.azure;
        let bad = |key: &str, message: String, hint: String| -> anyhow::Error {
            UserError::usage(format!("`[azure] {key}` in {file}: {message}"))
                .with_hint(hint)
                .into()
        };
        let cloud = match section.cloud.as_deref() {
            None => Cloud::Public,
            Some(text) => Cloud::parse(text).ok_or_else(|| {
                bad(
                    "cloud",
                    format!("`{text}` is not a cloud"),
                    format!("Use one of {}", Cloud::NAMES.join(", ")),
                )
            })?,
        };
        let defaults = cloud.endpoints();
        let pick = |key: &str, given: &Option<String>, default: Option<&str>| -> anyhow::Result<String> {
            given
                .as_deref()
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .or(default)
                .map(str::to_string)
                .ok_or_else(|| {
                    bad(
                        key,
                        "is required with `cloud = \"custom\"`".to_string(),
                        format!(
                            "Set `{key}`, or choose a built-in cloud ({})",
                            Cloud::NAMES[..3].join(", ")
                        ),
                    )
                })
        };
        let management = Audience::new(
            &pick(
                "management_endpoint",
                &section.management_endpoint,
                defaults.as_ref().map(|d| d.management.endpoint.as_str()),
            )?,
            &pick(
                "management_scope",
                &section.management_scope,
                defaults.as_ref().map(|d| d.management.scope.as_str()),
            )?,
        );
        let loganalytics = Audience::new(
            &pick(
                "loganalytics_endpoint",
                &section.loganalytics_endpoint,
                defaults.as_ref().map(|d| d.loganalytics.endpoint.as_str()),
            )?,
            &pick(
                "loganalytics_scope",
                &section.loganalytics_scope,
                defaults.as_ref().map(|d| d.loganalytics.scope.as_str()),
            )?,
        );
        for (key, audience) in [
            ("management_endpoint", &management),
            ("loganalytics_endpoint", &loganalytics),
        ] {
            audience.url().map_err(|err| {
                bad(
                    key,
                    format!("{err:#}"),
                    "Give the service's https:// base URL, e.g. `https://management.azure.com`".to_string(),
                )
            })?;
        }
        let endpoints = CloudEndpoints {
            management,
            loganalytics,
            postgres_scope: defaults.map_or_else(
                || "https://ossrdbms-aad.database.windows.net/.default".to_string(),
                |d| d.postgres_scope,
            ),
        };
        let credential = match section.credential.as_deref() {
            None => CredentialChoice::Auto,
            Some(text) => match CredentialChoice::parse(text) {
                Some(CredentialChoice::ConnectionString | CredentialChoice::Sas) | None => {
                    return Err(bad(
                        "credential",
                        format!("`{text}` is not an Entra ID credential"),
                        "Use one of auto, environment, workload-identity, managed-identity, cli (connection strings \
                         and SAS tokens only authorize Blob Storage)"
                            .to_string(),
                    ));
                }
                Some(choice) => choice,
            },
        };
        let duration = |value: &Option<crate::units::HumanDuration>, default: Duration| {
            value.as_ref().map_or(default, |value| value.0)
        };
        let defaults = RestOptions::default();
        let options = RestOptions {
            timeout: duration(&section.timeout, defaults.timeout),
            max_retries: section.max_retries.unwrap_or(defaults.max_retries),
            max_retry_wait: duration(&section.max_retry_wait, defaults.max_retry_wait),
            poll_interval: duration(&section.poll_interval, defaults.poll_interval),
        };
        if options.timeout.is_zero() {
            return Err(bad(
                "timeout",
                "must be more than 0".to_string(),
                "Give a duration such as `60s`".to_string(),
            ));
        }
        let text = |value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        Ok(Self {
            cloud,
            endpoints,
            credential,
            managed_identity_client_id: text(&section.managed_identity_client_id),
            options,
            subscription_id: env(EnvVars::AZURE_SUBSCRIPTION_ID).or_else(|| text(&section.subscription_id)),
            resource_group: text(&section.resource_group),
            postgres_server: text(&section.postgres_server),
            app_service: text(&section.app_service),
            app_service_plan: text(&section.app_service_plan),
            file,
        })
    }

    /// The Flexible Server of `[azure] postgres_server`.
    ///
    /// # Errors
    /// When it (or the subscription and resource group it needs) is not configured (exit 2).
    pub fn postgres_server(&self) -> anyhow::Result<ResourceId> {
        self.resource(
            "postgres_server",
            self.postgres_server.as_deref(),
            ResourceId::FLEXIBLE_SERVER,
        )
    }

    /// The web app of `[azure] app_service`.
    ///
    /// # Errors
    /// See [`Self::postgres_server`].
    pub fn app_service(&self) -> anyhow::Result<ResourceId> {
        self.resource("app_service", self.app_service.as_deref(), ResourceId::WEB_SITE)
    }

    /// The plan of `[azure] app_service_plan`.
    ///
    /// # Errors
    /// See [`Self::postgres_server`].
    pub fn app_service_plan(&self) -> anyhow::Result<ResourceId> {
        self.resource(
            "app_service_plan",
            self.app_service_plan.as_deref(),
            ResourceId::APP_SERVICE_PLAN,
        )
    }

    /// A resource of `resource_type` given as `value` (a name or a full id) under `[azure] key`; also for a name
    /// given on the command line (then `key` names the flag's config equivalent).
    ///
    /// # Errors
    /// See [`Self::postgres_server`].
    pub fn resource(&self, key: &str, value: Option<&str>, resource_type: &str) -> anyhow::Result<ResourceId> {
        let Some(value) = value else {
            return Err(UserError::usage(format!("`[azure] {key}` is not set in {}", self.file))
                .with_hint(format!(
                    "Set `{key}` in the `[azure]` section to the resource's name (with `subscription_id` and \
                     `resource_group`) or its full resource id (docs/azure.md)"
                ))
                .into());
        };
        if ResourceId::looks_like_id(value) {
            return ResourceId::parse(value, resource_type).map_err(|message| {
                UserError::usage(format!("`[azure] {key}` in {}: {message}", self.file))
                    .with_hint("Copy the id from the resource's JSON view in the Azure portal, or give its name")
                    .into()
            });
        }
        let given = value;
        let need = |name: &str, value: &Option<String>| -> anyhow::Result<String> {
            value.clone().ok_or_else(|| {
                UserError::usage(format!(
                    "`[azure] {name}` is not set in {} (`{key} = \"{given}\"` is a name, not a resource id)",
                    self.file
                ))
                .with_hint(if name == "subscription_id" {
                    "Set `subscription_id` in `[azure]` or `AZURE_SUBSCRIPTION_ID`, or give the full resource id"
                        .to_string()
                } else {
                    format!("Set `{name}` in `[azure]`, or give the full resource id")
                })
                .into()
            })
        };
        let subscription = need("subscription_id", &self.subscription_id)?;
        let group = need("resource_group", &self.resource_group)?;
        Ok(ResourceId::new(&subscription, &group, resource_type, value))
    }

    /// The Entra ID credential `[azure] credential` names.
    ///
    /// # Errors
    /// When the chosen source's variables are missing (exit 2).
    pub fn entra_credential(&self) -> anyhow::Result<EntraCredential> {
        EntraCredential::new(
            self.credential,
            &process_env,
            self.managed_identity_client_id.as_deref(),
            self.options.timeout,
        )
        .map_err(|err| {
            UserError::usage(format!("`[azure] credential` in {}: {err:#}", self.file))
                .with_hint("Set the variables the credential needs, or choose another with `[azure] credential`")
                .into()
        })
    }

    /// A client of Azure Resource Manager (also Azure Monitor metrics and App Service).
    ///
    /// # Errors
    /// See [`Self::entra_credential`].
    pub fn management_client(&self) -> anyhow::Result<RestClient> {
        RestClient::new(
            self.endpoints.management.clone(),
            self.entra_credential()?,
            self.options,
        )
    }

    /// A client of Log Analytics queries.
    ///
    /// # Errors
    /// See [`Self::entra_credential`].
    pub fn loganalytics_client(&self) -> anyhow::Result<RestClient> {
        RestClient::new(
            self.endpoints.loganalytics.clone(),
            self.entra_credential()?,
            self.options,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::{Classify, ExitStatus};

    fn load(text: &str, profile: Option<&str>) -> LoadedConfig {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("campctl.toml");
        fs_err::write(&path, text).expect("write config");
        crate::config_file::load(Some(&path), &[], profile).expect("a valid file")
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn status(err: &anyhow::Error) -> ExitStatus {
        err.downcast_ref::<UserError>()
            .map(Classify::exit_status)
            .expect("a UserError")
    }

    #[test]
    fn names_ids_and_profiles_resolve() {
        let config = load(
            "[azure]\nsubscription_id = \"s1\"\nresource_group = \"rg\"\npostgres_server = \"pg1\"\n\
             [profiles.prod.azure]\nresource_group = \"rg-prod\"\ncloud = \"usgov\"\n",
            Some("prod"),
        );
        let settings = AzureSettings::resolve_with(&config, &no_env).expect("resolves");
        let id = settings.postgres_server().expect("an id");
        assert_eq!(
            id.to_string(),
            "/subscriptions/s1/resourceGroups/rg-prod/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg1"
        );
        assert_eq!(
            settings.endpoints.management.endpoint,
            "https://management.usgovcloudapi.net"
        );
        // The environment's subscription wins over the file's.
        let env = |name: &str| (name == "AZURE_SUBSCRIPTION_ID").then(|| "s-env".to_string());
        let settings = AzureSettings::resolve_with(&config, &env).expect("resolves");
        assert_eq!(settings.postgres_server().expect("id").subscription_id, "s-env");
        // A full id needs no subscription or group.
        let bare = load(
            "[azure]\napp_service = \"/subscriptions/s2/resourceGroups/web/providers/Microsoft.Web/sites/app1\"\n",
            None,
        );
        let settings = AzureSettings::resolve_with(&bare, &no_env).expect("resolves");
        assert_eq!(settings.app_service().expect("id").resource_group, "web");
        let err = settings.app_service_plan().expect_err("not set");
        assert_eq!(status(&err), ExitStatus::Usage);
        assert!(
            err.to_string().contains("`[azure] app_service_plan` is not set in `"),
            "{err}"
        );
    }

    #[test]
    fn bad_values_are_usage_errors_naming_the_key() {
        for (text, key) in [
            ("cloud = \"mars\"", "cloud"),
            ("cloud = \"custom\"", "management_endpoint"),
            ("credential = \"sas\"", "credential"),
            ("management_endpoint = \"http://127.0.0.1:1\"", "management_endpoint"),
            ("timeout = \"0s\"", "timeout"),
        ] {
            let config = load(&format!("[azure]\n{text}\n"), None);
            let err = AzureSettings::resolve_with(&config, &no_env).expect_err(text);
            assert_eq!(status(&err), ExitStatus::Usage, "{text}");
            assert!(
                err.to_string().contains(&format!("`[azure] {key}` in `")),
                "{text}: {err}"
            );
        }
        let custom = load(
            "[azure]\ncloud = \"custom\"\nmanagement_endpoint = \"https://arm.example\"\nmanagement_scope = \
             \"https://arm.example/.default\"\nloganalytics_endpoint = \"https://la.example\"\nloganalytics_scope = \
             \"https://la.example/.default\"\n",
            None,
        );
        let settings = AzureSettings::resolve_with(&custom, &no_env).expect("a custom cloud");
        assert_eq!(settings.endpoints.loganalytics.scope, "https://la.example/.default");
    }
}
