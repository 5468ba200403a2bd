//! Environment variables campctl reads, one documented constant each (docs/configuration.md lists them all).

/// The names of the environment variables campctl reads.
pub(crate) struct EnvVars;

impl EnvVars {
    /// Path of the configuration file (like `--config`).
    pub(crate) const CAMPCTL_CONFIG: &'static str = "CAMPCTL_CONFIG";
    /// Profile of the configuration file to use (like `--profile`).
    pub(crate) const CAMPCTL_PROFILE: &'static str = "CAMPCTL_PROFILE";
    /// Output format of reports: `table`, `json` or `csv` (like `--format`).
    pub(crate) const CAMPCTL_FORMAT: &'static str = "CAMPCTL_FORMAT";
    /// Log format on stderr: `text` or `json` (like `--log-format`).
    pub(crate) const CAMPCTL_LOG_FORMAT: &'static str = "CAMPCTL_LOG_FORMAT";
    /// Colour: `auto`, `always` or `never` (like `--color`).
    pub(crate) const CAMPCTL_COLOR: &'static str = "CAMPCTL_COLOR";
    /// Secret: the webhook URL of `[notify]` (docs/notify.md); overrides `[notify] webhook_url`.
    pub(crate) const CAMPCTL_NOTIFY_WEBHOOK_URL: &'static str = "CAMPCTL_NOTIFY_WEBHOOK_URL";
    /// Disables colour when set to any non-empty value (<https://no-color.org>).
    pub(crate) const NO_COLOR: &'static str = "NO_COLOR";
    /// Connection URL or key/value string of the database (like `--db-url`).
    pub(crate) const DATABASE_URL: &'static str = "DATABASE_URL";
    /// libpq: host name or unix socket directory.
    pub(crate) const PGHOST: &'static str = "PGHOST";
    /// libpq: port.
    pub(crate) const PGPORT: &'static str = "PGPORT";
    /// libpq: user name.
    pub(crate) const PGUSER: &'static str = "PGUSER";
    /// libpq: password (prefer a password file).
    pub(crate) const PGPASSWORD: &'static str = "PGPASSWORD";
    /// libpq: database name.
    pub(crate) const PGDATABASE: &'static str = "PGDATABASE";
    /// libpq: TLS mode: disable, prefer, require, verify-ca, verify-full.
    pub(crate) const PGSSLMODE: &'static str = "PGSSLMODE";
    /// libpq: CA certificate file used by verify-ca and verify-full (or `system`).
    pub(crate) const PGSSLROOTCERT: &'static str = "PGSSLROOTCERT";
    /// libpq: password file (default `~/.pgpass`).
    pub(crate) const PGPASSFILE: &'static str = "PGPASSFILE";
    /// libpq: connect timeout in seconds.
    pub(crate) const PGCONNECT_TIMEOUT: &'static str = "PGCONNECT_TIMEOUT";
    /// libpq: application name (default `campctl`).
    pub(crate) const PGAPPNAME: &'static str = "PGAPPNAME";
    /// libpq: the service of the service file whose values are the connection's defaults.
    pub(crate) const PGSERVICE: &'static str = "PGSERVICE";
    /// libpq: the user's service file (default `~/.pg_service.conf`).
    pub(crate) const PGSERVICEFILE: &'static str = "PGSERVICEFILE";
    /// libpq: the directory of the system-wide `pg_service.conf` (default `/etc/postgresql-common`).
    pub(crate) const PGSYSCONFDIR: &'static str = "PGSYSCONFDIR";
    /// tracing filter directives; overrides `-v`.
    pub(crate) const RUST_LOG: &'static str = "RUST_LOG";
    /// Home directory, for `~/.pgpass` and `~/.postgresql/root.crt`.
    pub(crate) const HOME: &'static str = "HOME";
    /// Base directory of user configuration files.
    pub(crate) const XDG_CONFIG_HOME: &'static str = "XDG_CONFIG_HOME";
    /// Base directory of user data files: the local backup store of a non-root user defaults to
    /// `$XDG_DATA_HOME/campctl/backups` (`~/.local/share/campctl/backups`).
    pub(crate) const XDG_DATA_HOME: &'static str = "XDG_DATA_HOME";
    /// Base directory of user state files: `campctl health` keeps its samples in
    /// `$XDG_STATE_HOME/campctl/health-state.json` (`~/.local/state/…`) for a non-root user.
    pub(crate) const XDG_STATE_HOME: &'static str = "XDG_STATE_HOME";
    /// Secret: the Redis password of `campctl health`'s `redis` check (redis-cli's variable); overrides the
    /// password of `[health.redis] url` and `password`.
    pub(crate) const REDISCLI_AUTH: &'static str = "REDISCLI_AUTH";
    /// Secret: an Azure Storage connection string (`AccountName=…;AccountKey=…`, `BlobEndpoint=…;SharedAccessSignature=…`
    /// or `UseDevelopmentStorage=true`); overrides `[storage.azure] connection_string` (docs/storage.md).
    pub(crate) const AZURE_STORAGE_CONNECTION_STRING: &'static str = "AZURE_STORAGE_CONNECTION_STRING";
    /// Secret: a SAS token (`sv=…&sig=…`) for the Azure container; overrides `[storage.azure] sas_token`.
    pub(crate) const AZURE_STORAGE_SAS_TOKEN: &'static str = "AZURE_STORAGE_SAS_TOKEN";
    /// The Azure Storage account name; overrides `[storage.azure] account` (the URL becomes
    /// `https://<account>.blob.core.windows.net` unless `account_url` is set).
    pub(crate) const AZURE_STORAGE_ACCOUNT: &'static str = "AZURE_STORAGE_ACCOUNT";
    /// Entra ID: the tenant of the service principal or workload identity (azure_identity reads it too).
    pub(crate) const AZURE_TENANT_ID: &'static str = "AZURE_TENANT_ID";
    /// Entra ID: the client (application) id of the service principal or workload identity.
    pub(crate) const AZURE_CLIENT_ID: &'static str = "AZURE_CLIENT_ID";
    /// Secret, Entra ID: the client secret of the service principal.
    pub(crate) const AZURE_CLIENT_SECRET: &'static str = "AZURE_CLIENT_SECRET";
    /// Entra ID: the projected service-account token of Kubernetes workload identity.
    pub(crate) const AZURE_FEDERATED_TOKEN_FILE: &'static str = "AZURE_FEDERATED_TOKEN_FILE";
    /// The Azure subscription of the managed resources; overrides `[azure] subscription_id` (docs/azure.md).
    pub(crate) const AZURE_SUBSCRIPTION_ID: &'static str = "AZURE_SUBSCRIPTION_ID";

    /// The libpq variables campctl reads (the connection ones are rendered for child processes; the service ones are
    /// resolved by campctl and removed from a child's environment).
    pub(crate) const LIBPQ: &'static [&'static str] = &[
        Self::PGHOST,
        Self::PGPORT,
        Self::PGUSER,
        Self::PGPASSWORD,
        Self::PGDATABASE,
        Self::PGSSLMODE,
        Self::PGSSLROOTCERT,
        Self::PGPASSFILE,
        Self::PGCONNECT_TIMEOUT,
        Self::PGAPPNAME,
        Self::PGSERVICE,
        Self::PGSERVICEFILE,
        Self::PGSYSCONFDIR,
    ];
}
