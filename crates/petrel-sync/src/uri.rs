//! `replica_sources[].uri`: `redis://[[user]:password@]host:port`, as Redis
//! Enterprise's Replica Of takes it.

/// Where a replica pulls from, and how it authenticates with AUTH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceUri {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl SourceUri {
    /// Parses the URI; the error says what is wrong in words.
    pub fn parse(uri: &str) -> Result<SourceUri, String> {
        let rest = uri
            .strip_prefix("redis://")
            .ok_or_else(|| format!("{uri:?} does not start with redis://"))?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (credentials, address) = match rest.rsplit_once('@') {
            Some((credentials, address)) => (Some(credentials), address),
            None => (None, rest),
        };
        let (username, password) = match credentials {
            None => (None, None),
            Some(credentials) => match credentials.split_once(':') {
                Some(("", password)) => (None, Some(password.to_string())),
                Some((user, password)) => (Some(user.to_string()), Some(password.to_string())),
                None => (None, Some(credentials.to_string())),
            },
        };
        let (host, port) = address
            .rsplit_once(':')
            .ok_or_else(|| format!("{uri:?} has no :port"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(format!("{uri:?} has no host"));
        }
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|port| *port != 0)
            .ok_or_else(|| format!("{uri:?}: port {port:?} is not a number from 1 to 65535"))?;
        Ok(SourceUri {
            host: host.to_string(),
            port,
            username: username.filter(|user| !user.is_empty()),
            password: password.filter(|password| !password.is_empty()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The forms Redis Enterprise documents parse; a missing scheme, port
    // or host is refused with a reason.
    #[test]
    fn forms_of_the_uri() {
        assert_eq!(
            SourceUri::parse("redis://:secret@10.0.0.1:12000"),
            Ok(SourceUri {
                host: "10.0.0.1".into(),
                port: 12000,
                username: None,
                password: Some("secret".into())
            })
        );
        assert_eq!(
            SourceUri::parse("redis://db.example.com:6379/").map(|uri| (uri.host, uri.password)),
            Ok(("db.example.com".into(), None))
        );
        assert_eq!(
            SourceUri::parse("redis://admin:p@ss@[::1]:7000").map(|uri| (
                uri.host,
                uri.username,
                uri.password
            )),
            Ok(("::1".into(), Some("admin".into()), Some("p@ss".into())))
        );
        assert!(SourceUri::parse("http://h:1").is_err());
        assert!(SourceUri::parse("redis://h").is_err());
        assert!(SourceUri::parse("redis://:1").is_err());
        assert!(SourceUri::parse("redis://h:99999").is_err());
    }
}
