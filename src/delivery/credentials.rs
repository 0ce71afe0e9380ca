//! Whether the push credentials are usable, as the admin page shows it: set or not, and if set
//! whether they parse. Nothing here quotes a credential; what it names (the FCM project, the
//! certificate's subject) is public.

use super::fcm::rules::{CredentialsError, ServiceAccount};

/// The state of one credential setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// Blank: the provider is not configured.
    Missing,
    /// Set but unusable, and why.
    Invalid(String),
    /// Set and readable: what it is, and where it has one, the end of its validity (ms).
    Valid { name: String, expires: Option<i64> },
}

/// `Push_google_api_credentials`: a service account that `ServiceAccount::parse` accepts and
/// whose key is an RSA key in PEM, as the JWT grant needs.
pub fn fcm_credentials(json: &str) -> Credential {
    match ServiceAccount::parse(json) {
        Err(CredentialsError::NotSet) => Credential::Missing,
        Err(CredentialsError::Invalid(why)) => Credential::Invalid(why),
        Ok(account) => {
            let key = secrecy::ExposeSecret::expose_secret(&account.private_key).as_bytes();
            match jsonwebtoken::EncodingKey::from_rsa_pem(key) {
                Ok(_) => Credential::Valid {
                    name: format!("project {}", account.project_id),
                    expires: None,
                },
                Err(_) => Credential::Invalid("private_key is not an RSA key in PEM".into()),
            }
        }
    }
}

/// `Push_apn_cert`: the first certificate of the PEM text, named by its subject's common
/// name, with its `notAfter`.
pub fn apns_certificate(pem: &str) -> Credential {
    if pem.trim().is_empty() {
        return Credential::Missing;
    }
    let unreadable = || Credential::Invalid("not a PEM certificate".into());
    let Some(block) = x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes())
        .map_while(Result::ok)
        .find(|p| p.label == "CERTIFICATE")
    else {
        return unreadable();
    };
    let Ok(cert) = block.parse_x509() else {
        return unreadable();
    };
    let name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or("certificate")
        .to_string();
    Credential::Valid {
        name,
        expires: Some(cert.validity().not_after.timestamp().saturating_mul(1000)),
    }
}

/// `Push_apn_auth_key` with `Push_apn_key_id` and `Push_apn_team_id`: token authentication,
/// an EC key in PEM (Apple's `.p8`) that signs the ES256 provider tokens, named by key id.
pub fn apns_token_key(pem: &str, key_id: &str, team_id: &str) -> Credential {
    if pem.trim().is_empty() {
        return Credential::Missing;
    }
    if key_id.is_empty() || team_id.is_empty() {
        return Credential::Invalid("the key id and the team id must be set with the key".into());
    }
    match jsonwebtoken::EncodingKey::from_ec_pem(pem.trim().as_bytes()) {
        Ok(_) => Credential::Valid {
            name: format!("key {key_id} of team {team_id}"),
            expires: None,
        },
        Err(_) => Credential::Invalid("not an EC private key in PEM (.p8)".into()),
    }
}

/// `Push_apn_key`: a PEM private key (encrypted or not; the passphrase is not tried here).
pub fn apns_key(pem: &str) -> Credential {
    let text = pem.trim();
    match text.is_empty() {
        true => Credential::Missing,
        false if text.starts_with("-----BEGIN") && text.contains("PRIVATE KEY-----") => {
            Credential::Valid {
                name: "private key".into(),
                expires: None,
            }
        }
        false => Credential::Invalid("not a PEM private key".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str = include_str!("../../tests/fixtures/admin-test-cert.pem");
    const KEY: &str = include_str!("../../tests/fixtures/admin-test-key.pem");

    #[test]
    fn a_certificate_tells_its_subject_and_expiry() {
        assert_eq!(
            apns_certificate(CERT),
            Credential::Valid {
                name: "Apple Push Services: <img src=x onerror=alert(1)>".into(),
                // notAfter=Nov 27 09:19:48 2036 GMT
                expires: Some(2_111_390_388_000),
            }
        );
        // The key file beside it, as Rocket.Chat's settings often hold both.
        assert_eq!(
            apns_certificate(&format!("{KEY}{CERT}")),
            apns_certificate(CERT)
        );
        assert_eq!(apns_certificate("  "), Credential::Missing);
        let broken = CERT.replace("MII", "MIX");
        assert!(matches!(apns_certificate(&broken), Credential::Invalid(_)));
        assert!(matches!(apns_certificate(KEY), Credential::Invalid(_)));
    }

    #[test]
    fn keys_and_service_accounts_are_checked_without_quoting_them() {
        assert!(matches!(apns_key(KEY), Credential::Valid { .. }));
        assert_eq!(apns_key(""), Credential::Missing);
        assert_eq!(
            apns_key("hunter2"),
            Credential::Invalid("not a PEM private key".into())
        );
        let p8 = include_str!("../../tests/fixtures/apns-test-auth-key.p8");
        assert_eq!(
            apns_token_key(p8, "ABC123DEFG", "TEAM123456"),
            Credential::Valid {
                name: "key ABC123DEFG of team TEAM123456".into(),
                expires: None
            }
        );
        assert_eq!(apns_token_key("", "k", "t"), Credential::Missing);
        assert!(matches!(
            apns_token_key(p8, "", "t"),
            Credential::Invalid(_)
        ));
        assert_eq!(
            apns_token_key("hunter2", "k", "t"),
            Credential::Invalid("not an EC private key in PEM (.p8)".into())
        );
        assert_eq!(fcm_credentials(""), Credential::Missing);
        let Credential::Invalid(why) = fcm_credentials(r#"{"secret-ish": "hunter2"}"#) else {
            panic!("an incomplete account is invalid");
        };
        assert!(!why.contains("hunter2"));
        let rsa = include_str!("../../tests/fixtures/fcm-test-key.pem");
        let account = |key: &str| {
            serde_json::json!({
                "client_email": "push@example.iam.gserviceaccount.com",
                "project_id": "example-project",
                "private_key_id": "k1",
                "private_key": key,
            })
            .to_string()
        };
        assert_eq!(
            fcm_credentials(&account(rsa)),
            Credential::Valid {
                name: "project example-project".into(),
                expires: None
            }
        );
        assert!(matches!(
            fcm_credentials(&account("not a key")),
            Credential::Invalid(_)
        ));
    }
}
