//! The configuration file's sections converted into the input types that `pg` and `storage` own.
//!
//! `config_file.rs` is a pure serde schema and the layers below settings never import it: a section reaches `pg`
//! or `storage` only through a conversion here. A conversion copies values and must never resolve, default or
//! validate them (that is the job of the layer that owns the type, which names the key in its errors).

use crate::config_file::DatabaseConfig;
use crate::pg::conninfo::FileKeys;

impl From<&DatabaseConfig> for FileKeys {
    fn from(config: &DatabaseConfig) -> Self {
        Self {
            url: config.url.clone(),
            host: config.host.clone(),
            port: config.port,
            user: config.user.clone(),
            password: config.password.clone(),
            dbname: config.dbname.clone(),
            sslmode: config.sslmode.clone(),
            sslrootcert: config.sslrootcert.clone(),
            passfile: config.passfile.clone(),
            connect_timeout: config.connect_timeout.map(|timeout| timeout.0),
            application_name: config.application_name.clone(),
        }
    }
}
