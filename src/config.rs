//! The client's whole configuration as plain data: endpoints, pool, timeouts, framing, match
//! fields, sign-on / sign-off / echo, retry and backoff, TLS. With feature `serde` it deserializes
//! from a service's own configuration file (TOML, YAML, …), typically an `[iso8583]` table; every
//! field is optional and states its default. Durations are text with a unit: `"250ms"`, `"5s"`,
//! `"2m"`, `"1h"`. `fixtures/client-config.toml` is a documented example.
//!
//! ```
//! # #[cfg(feature = "serde")] {
//! use iso8583_client::{config::Config, ClientBuilder};
//! #[derive(serde::Deserialize)]
//! struct ServiceConfig {
//!     iso8583: Config,
//! }
//! let text = r#"
//!     [iso8583]
//!     spec = "iso87-ascii"
//!     endpoints = ["127.0.0.1:9583", "127.0.0.1:9584"]
//!     timeout = "10s"
//!     [iso8583.retry]
//!     attempts = 2
//! "#;
//! let service: ServiceConfig = toml::from_str(text).unwrap();
//! # let _rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! # let _guard = _rt.enter();
//! let client = ClientBuilder::from_config(&service.iso8583).unwrap().build().unwrap();
//! assert_eq!(client.counters().len(), 2);
//! # }
//! ```

use std::time::Duration;

use crate::transport::framing::{Framing, LengthPrefix};
use crate::transport::{network_request, Backoff, ConnectionConfig};
use crate::{Client, ClientBuilder, RetryPolicy, Spec};

/// The client's configuration. `Default` is the library's defaults with no endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct Config {
    /// A built-in spec name or the path of a spec file. Default: `iso87-ascii`.
    pub spec: Option<String>,
    /// Host addresses (`host:port`), primary first. Required to build a client.
    pub endpoints: Vec<String>,
    /// Most links open at once. Default: 4.
    pub pool_size: Option<usize>,
    /// Time allowed for a whole send (checkout, write, wait, retries). Default: 30 s.
    #[cfg_attr(feature = "serde", serde(with = "duration_text::option"))]
    pub timeout: Option<Duration>,
    /// Longest wait for a link of the pool. Default: none (the send's deadline only).
    #[cfg_attr(feature = "serde", serde(with = "duration_text::option"))]
    pub wait_timeout: Option<Duration>,
    /// TCP connect timeout (the TLS handshake included). Default: 5 s.
    #[cfg_attr(feature = "serde", serde(with = "duration_text::option"))]
    pub connect_timeout: Option<Duration>,
    /// TCP keepalive idle time; `"0s"` disables it. Default: 30 s.
    #[cfg_attr(feature = "serde", serde(with = "duration_text::option"))]
    pub tcp_keepalive: Option<Duration>,
    /// Fields matched with DE 11 to pair a response (e.g. `[41]`). Default: none.
    pub match_fields: Vec<u8>,
    /// Requests in flight on one link at most. Default: 10,000.
    pub max_in_flight: Option<usize>,
    /// How long a match key whose outcome is unknown stays refused to new requests. Default: 5 min.
    #[cfg_attr(feature = "serde", serde(with = "duration_text::option"))]
    pub late_window: Option<Duration>,
    /// Keys per link remembered to tell a late or duplicate answer. Default: 4096.
    pub late_memory: Option<usize>,
    /// This many timeouts in a row mark a link broken (0: never). Default: 5.
    pub max_consecutive_timeouts: Option<u32>,
    /// Graceful close waits this long for requests in flight. Default: 5 s.
    #[cfg_attr(feature = "serde", serde(with = "duration_text::option"))]
    pub drain_timeout: Option<Duration>,
    /// The wire framing. Default: 2-byte binary length, no header.
    pub framing: FramingConfig,
    /// Sign-on, sign-off and echo (network management, 0800).
    pub network: NetworkConfig,
    /// Retries of failed sends (only where safe; see [`RetryPolicy`]).
    pub retry: RetryConfig,
    /// Backoff of an endpoint whose connect failed.
    pub reconnect: ReconnectConfig,
    /// TLS (feature `tls`); absent: plain TCP.
    pub tls: Option<TlsConfig>,
}

/// The framing part of [`Config`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct FramingConfig {
    /// Length prefix: `2b` (2 bytes binary), `4b`, `4a` (4 ASCII digits), `2bcd`. Default: `2b`.
    pub prefix: Option<String>,
    /// A fixed header after the prefix (a TPDU), in hex. Default: none.
    pub header: Option<String>,
    /// The length counts the header too. Default: false.
    pub length_includes_header: bool,
    /// Largest frame accepted, in bytes. Default: the framing's.
    pub max_frame: Option<usize>,
}

/// The network-management part of [`Config`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct NetworkConfig {
    /// Sign on (0800, DE 70 = 001) when a link opens. Default: false.
    pub sign_on: bool,
    /// Sign off (0800, DE 70 = 002) on graceful close. Default: false.
    pub sign_off: bool,
    /// Time allowed for sign-on and sign-off answers. Default: 5 s.
    #[cfg_attr(feature = "serde", serde(with = "duration_text::option"))]
    pub sign_on_timeout: Option<Duration>,
    /// Send an echo (0800, DE 70 = 301) after this long without traffic. Default: never.
    #[cfg_attr(feature = "serde", serde(with = "duration_text::option"))]
    pub idle_echo: Option<Duration>,
    /// An echo unanswered this long marks the link broken. Default: 5 s.
    #[cfg_attr(feature = "serde", serde(with = "duration_text::option"))]
    pub echo_timeout: Option<Duration>,
}

/// The retry part of [`Config`] (see [`RetryPolicy`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct RetryConfig {
    /// Attempts in all, the first included (1: never retry). Default: 3.
    pub attempts: Option<u32>,
    /// Pause before the first retry. Default: 20 ms.
    #[cfg_attr(feature = "serde", serde(with = "duration_text::option"))]
    pub initial_backoff: Option<Duration>,
    /// Longest pause. Default: 1 s.
    #[cfg_attr(feature = "serde", serde(with = "duration_text::option"))]
    pub max_backoff: Option<Duration>,
    /// Longest wait for the answer to one attempt. Default: none.
    #[cfg_attr(feature = "serde", serde(with = "duration_text::option"))]
    pub attempt_timeout: Option<Duration>,
}

/// The reconnect part of [`Config`] (see [`Backoff`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct ReconnectConfig {
    /// First pause after a failed connect. Default: the library's.
    #[cfg_attr(feature = "serde", serde(with = "duration_text::option"))]
    pub initial: Option<Duration>,
    /// Longest pause. Default: the library's.
    #[cfg_attr(feature = "serde", serde(with = "duration_text::option"))]
    pub max: Option<Duration>,
}

/// The TLS part of [`Config`]: PEM file paths (feature `tls`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct TlsConfig {
    /// CA certificates to trust. Default: the system's roots.
    pub ca: Option<std::path::PathBuf>,
    /// Client certificate chain, for mutual TLS (needs `client_key`).
    pub client_cert: Option<std::path::PathBuf>,
    /// The client certificate's private key.
    pub client_key: Option<std::path::PathBuf>,
    /// Name to verify the host's certificate against. Default: the endpoint's host part.
    pub server_name: Option<String>,
}

/// A configuration that cannot make a client: what is wrong, in the configuration's terms.
#[derive(Debug, thiserror::Error)]
#[error("iso8583 configuration: {0}")]
pub struct ConfigError(String);

impl Config {
    /// The link settings this configuration describes (the library's defaults where it is silent).
    pub fn connection_config(&self) -> Result<ConnectionConfig, ConfigError> {
        let base = ConnectionConfig::default();
        let net = &self.network;
        let mut config = ConnectionConfig {
            framing: self.framing.framing()?,
            connect_timeout: self.connect_timeout.unwrap_or(base.connect_timeout),
            tcp_keepalive: match self.tcp_keepalive {
                Some(d) if d.is_zero() => None,
                Some(d) => Some(d),
                None => base.tcp_keepalive,
            },
            max_in_flight: self.max_in_flight.unwrap_or(base.max_in_flight),
            late_window: self.late_window.unwrap_or(base.late_window),
            late_memory: self.late_memory.unwrap_or(base.late_memory),
            max_consecutive_timeouts: self.max_consecutive_timeouts.unwrap_or(base.max_consecutive_timeouts),
            drain_timeout: self.drain_timeout.unwrap_or(base.drain_timeout),
            match_fields: self.match_fields.clone(),
            sign_on: net.sign_on.then(|| network_request("001")),
            sign_off: net.sign_off.then(|| network_request("002")),
            sign_on_timeout: net.sign_on_timeout.unwrap_or(base.sign_on_timeout),
            idle_echo: net.idle_echo,
            echo_timeout: net.echo_timeout.unwrap_or(base.echo_timeout),
            ..base
        };
        if let Some(field) = self.match_fields.iter().find(|f| !(2..=128).contains(*f)) {
            return Err(ConfigError(format!(
                "match_fields: field {field} is not a data element (2-128)"
            )));
        }
        if let Some(tls) = &self.tls {
            config.connector = tls.connector()?;
        }
        Ok(config)
    }

    /// The retry policy this configuration describes.
    pub fn retry_policy(&self) -> RetryPolicy {
        let base = RetryPolicy::default();
        RetryPolicy {
            attempts: self.retry.attempts.unwrap_or(base.attempts),
            backoff: Backoff {
                initial: self.retry.initial_backoff.unwrap_or(base.backoff.initial),
                max: self.retry.max_backoff.unwrap_or(base.backoff.max),
            },
            attempt_timeout: self.retry.attempt_timeout,
        }
    }

    /// The spec this configuration names (built-in name or file path).
    pub fn load_spec(&self) -> Result<std::sync::Arc<Spec>, ConfigError> {
        let name = self.spec.as_deref().unwrap_or("iso87-ascii");
        Spec::load(name).map_err(|e| ConfigError(format!("spec: {e}")))
    }
}

impl FramingConfig {
    fn framing(&self) -> Result<Framing, ConfigError> {
        let prefix = match self.prefix.as_deref() {
            None | Some("2b") => LengthPrefix::Binary2,
            Some("4b") => LengthPrefix::Binary4,
            Some("4a") => LengthPrefix::Ascii4,
            Some("2bcd") => LengthPrefix::Bcd2,
            Some(other) => {
                return Err(ConfigError(format!(
                    "framing.prefix: {other:?} is not one of 2b, 4b, 4a, 2bcd"
                )))
            }
        };
        let header = match &self.header {
            Some(text) => hex_bytes(text).ok_or_else(|| ConfigError(format!("framing.header: {text:?} is not hex")))?,
            None => Vec::new(),
        };
        let mut builder = Framing::builder()
            .prefix(prefix)
            .header(&header)
            .length_counts_header(self.length_includes_header);
        if let Some(max) = self.max_frame {
            builder = builder.max_frame(max);
        }
        Ok(builder.build())
    }
}

impl TlsConfig {
    #[cfg(feature = "tls")]
    fn connector(&self) -> Result<std::sync::Arc<dyn crate::transport::Connect>, ConfigError> {
        let settings = crate::transport::TlsSettings {
            ca: self.ca.clone(),
            client_cert: self.client_cert.clone(),
            client_key: self.client_key.clone(),
            server_name: self.server_name.clone(),
        };
        let connect = crate::transport::TlsConnect::new(&settings).map_err(|e| ConfigError(format!("tls: {e}")))?;
        Ok(std::sync::Arc::new(connect))
    }

    #[cfg(not(feature = "tls"))]
    fn connector(&self) -> Result<std::sync::Arc<dyn crate::transport::Connect>, ConfigError> {
        Err(ConfigError("tls: this build has no TLS (feature `tls`)".into()))
    }
}

/// Bytes of an even-length hex string (spaces allowed), `None` if it is not hex.
fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.len() % 2 != 0 {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

impl ClientBuilder {
    /// A builder set up from `config` (spec, endpoints, pool, timeouts, link settings, retry,
    /// backoff, TLS). Further builder calls override it, as command-line flags override a file.
    pub fn from_config(config: &Config) -> Result<ClientBuilder, ConfigError> {
        let mut builder = Client::builder(config.load_spec()?)
            .connection(config.connection_config()?)
            .retry(config.retry_policy());
        for endpoint in &config.endpoints {
            builder = builder.endpoint(endpoint.clone());
        }
        if let Some(size) = config.pool_size {
            builder = builder.pool_size(size);
        }
        if let Some(timeout) = config.timeout {
            builder = builder.timeout(timeout);
        }
        if let Some(wait) = config.wait_timeout {
            builder = builder.wait_timeout(wait);
        }
        let base = Backoff::default();
        builder = builder.reconnect_backoff(Backoff {
            initial: config.reconnect.initial.unwrap_or(base.initial),
            max: config.reconnect.max.unwrap_or(base.max),
        });
        Ok(builder)
    }
}

/// Durations as text with a unit (`"250ms"`, `"5s"`, `"2m"`, `"1h"`).
#[cfg(feature = "serde")]
mod duration_text {
    use std::time::Duration;

    /// Parses `"250ms"`, `"5s"`, `"1.5s"`, `"2m"`, `"1h"`.
    pub(super) fn parse(text: &str) -> Result<Duration, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("{text:?} has no unit (ms, s, m, h)"))?;
        let (number, unit) = text.split_at(split);
        let value: f64 = number
            .parse()
            .map_err(|_| format!("{text:?} is not a number followed by a unit"))?;
        let seconds = match unit.trim() {
            "ms" => value / 1000.0,
            "s" => value,
            "m" => value * 60.0,
            "h" => value * 3600.0,
            other => return Err(format!("{text:?}: unknown unit {other:?} (ms, s, m, h)")),
        };
        Duration::try_from_secs_f64(seconds).map_err(|_| format!("{text:?} is out of range"))
    }

    pub(super) mod option {
        use serde::{Deserialize, Deserializer};
        use std::time::Duration;

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            let text = String::deserialize(d)?;
            super::parse(&text).map(Some).map_err(serde::de::Error::custom)
        }
    }

    #[cfg(test)]
    mod tests {
        use std::time::Duration;

        #[test]
        fn units() {
            assert_eq!(super::parse("250ms"), Ok(Duration::from_millis(250)));
            assert_eq!(super::parse("1.5s"), Ok(Duration::from_millis(1500)));
            assert_eq!(super::parse("2m"), Ok(Duration::from_secs(120)));
            assert!(super::parse("5").is_err());
            assert!(super::parse("5 days").is_err());
            assert!(super::parse("-1s").is_err());
        }
    }
}
