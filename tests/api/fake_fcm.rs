//! Google's OAuth token endpoint and FCM HTTP v1 on loopback, one server: `POST /token`
//! grants `ya29.fake-<n>` (n counts the grants), `POST /v1/projects/…/messages:send`
//! answers from a script, 200 once it runs out.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::fake_gateway::{serve, Received, Reply, Requests};

pub const PROJECT: &str = "rcpush-test";
pub const CLIENT_EMAIL: &str = "push@rcpush-test.iam.gserviceaccount.com";
pub const KEY_ID: &str = "0123456789abcdef";
const PRIVATE_KEY: &str = include_str!("../fixtures/fcm-test-key.pem");
pub const PUBLIC_KEY: &str = include_str!("../fixtures/fcm-test-key.pub.pem");

#[derive(Clone)]
pub struct FakeFcm {
    pub url: String,
    grants: Requests,
    pub sends: Requests,
    script: Arc<Mutex<VecDeque<Reply>>>,
    /// Statuses for the grants; a token once they run out.
    grant_script: Arc<Mutex<VecDeque<u16>>>,
}

impl FakeFcm {
    pub fn start() -> FakeFcm {
        let fake = FakeFcm {
            url: String::new(),
            grants: Requests::default(),
            sends: Requests::default(),
            script: Arc::default(),
            grant_script: Arc::default(),
        };
        let f = fake.clone();
        let url = serve(move |r| {
            if r.path == "/token" {
                f.grants.push(r);
                return match f.grant_script.lock().unwrap().pop_front() {
                    Some(status) => Reply::json(status, r#"{"error":"invalid_grant"}"#),
                    None => Reply::json(
                        200,
                        &json!({"access_token": format!("ya29.fake-{}", f.grants.all().len()), "expires_in": 3599, "token_type": "Bearer"}).to_string(),
                    ),
                };
            }
            f.sends.push(r);
            let next = f.script.lock().unwrap().pop_front();
            next.unwrap_or_else(|| {
                Reply::json(200, r#"{"name":"projects/rcpush-test/messages/1"}"#)
            })
        });
        FakeFcm { url, ..fake }
    }

    /// `Push_google_api_credentials` for this fake: a real key, `token_uri` pointing here.
    pub fn service_account(&self) -> String {
        json!({
            "type": "service_account",
            "project_id": PROJECT,
            "private_key_id": KEY_ID,
            "private_key": PRIVATE_KEY,
            "client_email": CLIENT_EMAIL,
            "client_id": "1234567890",
            "token_uri": format!("{}/token", self.url),
        })
        .to_string()
    }

    /// Answers the next sends with these replies.
    pub fn answer(&self, replies: impl IntoIterator<Item = Reply>) {
        self.script.lock().unwrap().extend(replies);
    }

    /// Answers the next grants with these (error) statuses.
    pub fn refuse_grants(&self, statuses: &[u16]) {
        self.grant_script.lock().unwrap().extend(statuses);
    }

    pub fn grants(&self) -> Vec<Received> {
        self.grants.all()
    }
}
