// SPDX-License-Identifier: MIT OR Apache-2.0
mod browser;
mod cdn;
mod damaged;
mod default_run;
mod default_run_ingest;
mod encrypt;
mod errors;
mod events;
mod golden;
mod interrupt;
mod ladder;
mod live;
mod package;
mod signed;
mod storage;
mod validate;
mod webhooks;
