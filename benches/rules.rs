//! Micro-benchmarks of the per-request work of push.get: notification building, the markdown
//! filter, `notId`, and token hashing. `cargo bench --bench rules`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use rcpush::rules::credentials::token_hash;
use rcpush::rules::markdown_filter::filter_markdown;
use rcpush::rules::not_id::not_id;
use rcpush::rules::notification::{
    build_notification, MessageView, NotificationSettings, ReceiverView, RoomView, SenderView,
};
use rcpush::rules::text::Mention;
use serde_json::value::RawValue;

const SENDER: &str = r#"{"_id":"d26x6zSkaPSe5gCyy","username":"rodriq","name":"Rodriq"}"#;
const MARKUP: &str = "Hey @alice, see **the report** and _this_ ~draft~: [docs](https://rocket.chat/docs) `code` :smile:\n> quoted\n# Heading";

fn settings() -> NotificationSettings<'static> {
    NotificationSettings {
        push_show_username_room: true,
        push_show_message: true,
        ui_use_real_name: false,
        ui_allow_room_names_with_special_chars: false,
        site_url: "http://localhost:3000",
        favicon_192_url: None,
        unique_id: "E8A88JP-rcpush-demo",
    }
}

fn notification(c: &mut Criterion) {
    let sender: Box<RawValue> = RawValue::from_string(SENDER.to_string()).unwrap();
    let mentions = [Mention {
        username: Some("alice"),
        name: Some("Alice"),
    }];
    let muted: [&str; 0] = [];
    let settings = settings();
    c.bench_function("build_notification (channel, markup, mention)", |b| {
        b.iter(|| {
            let n = build_notification(
                &settings,
                &MessageView {
                    id: "WkbwSntxt8D3jLp8G",
                    rid: "iu7jtPAhvEeAS5tNq",
                    msg: Some(black_box(MARKUP)),
                    t: None,
                    tmid: None,
                    mentions: &mentions,
                    first_attachment: None,
                    u_id: "d26x6zSkaPSe5gCyy",
                    u: &sender,
                    content: None,
                },
                &RoomView {
                    t: "c",
                    name: Some("vb"),
                    fname: Some("vb"),
                    prid: None,
                    ro: false,
                    muted: &muted,
                    uids_len: 0,
                },
                &ReceiverView {
                    username: Some("alice"),
                    subscription_name: None,
                },
                &SenderView {
                    username: Some("rodriq"),
                    name: Some("Rodriq"),
                },
                2,
            );
            serde_json::to_vec(&n).unwrap()
        })
    });
}

fn text(c: &mut Criterion) {
    c.bench_function("filter_markdown (120 chars of markup)", |b| {
        b.iter(|| filter_markdown(black_box(MARKUP)))
    });
    c.bench_function("not_id", |b| {
        b.iter(|| {
            not_id(
                black_box("E8A88JP-rcpush-demo"),
                black_box("iu7jtPAhvEeAS5tNq"),
            )
        })
    });
    c.bench_function("token_hash (sha-256 + base64)", |b| {
        b.iter(|| token_hash(black_box("Zu-Z6eKzIIz7MCCRGeHi29bYkXZCJ4SxFC0JAasqm92")))
    });
}

criterion_group!(benches, notification, text);
criterion_main!(benches);
