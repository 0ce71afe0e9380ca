//! `rcpush admin …`: account chores that cannot go through the API, such as a lost password.

use rcpush::config::Config;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Chore,
}

#[derive(clap::Subcommand)]
enum Chore {
    /// Give USER a new generated password, printed once, and end all their sessions (the
    /// devices registered through them go too). The server must be stopped (sled).
    ResetPassword {
        /// A username, or a user id.
        user: String,
    },
}

pub fn run(config: &Config, args: &Args) -> anyhow::Result<()> {
    match &args.command {
        Chore::ResetPassword { user } => {
            let store = super::existing_database(config)?;
            let reset = rcpush::service::admin::reset_password(&store, user)?;
            // Printed once, on purpose, and never logged.
            println!(
                "rcpush: new password of '{}' ({}): {}",
                reset.username, reset.user_id, reset.password
            );
            println!(
                "rcpush: sessions ended: {}; sign in again with the new password",
                reset.sessions_ended
            );
            Ok(())
        }
    }
}
