//! The `rcpush` command: serve (default), load or export a seed bundle, check the database,
//! import a Rocket.Chat dump. Each command is a file of `cli/`.

use std::process::ExitCode;

use clap::Parser;

mod cli;

fn main() -> ExitCode {
    return_large_allocations_to_the_system();
    match cli::run(cli::Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rcpush: {}", cli::one_line(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}

/// Each password hash allocates 19 MiB. glibc raises its mmap threshold after the first such
/// block is freed and then keeps later ones in per-thread arenas, so a stream of logins would
/// pin hundreds of MB. A fixed threshold makes every large block go back to the system.
/// The number of arenas is left to glibc (and to `MALLOC_ARENA_MAX`, README "Small
/// devices"): one arena saves memory but halved the posts a busy server takes per second.
///
/// The binary's only `unsafe`, kept here and out of the library: glibc's tuning call has no
/// safe wrapper, and the library can then forbid `unsafe` altogether.
fn return_large_allocations_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; it is called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
