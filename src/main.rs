// SPDX-License-Identifier: MIT OR Apache-2.0
//! `hlsorigin`: package video into HLS, segment live input, serve it as an origin.
//! The CLI edge: argument parsing, logging, error reporting. All media work lives in the
//! `media` crate, all HTTP in the `origin` crate.

mod cli;
mod fs_store;
mod ingest;
mod input;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = match cli::parse() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("error: {err:#}");
            return ExitCode::FAILURE;
        }
    };
    cli::init_tracing(args.verbose, args.quiet());
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // A closed stdout (e.g. `| head`) is not a failure.
            if err.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            let mut msg = format!("error: {err}");
            for cause in err.chain().skip(1) {
                msg.push_str(&format!(": {cause}"));
            }
            eprintln!("{msg}");
            ExitCode::FAILURE
        }
    }
}
