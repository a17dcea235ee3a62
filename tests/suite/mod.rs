// SPDX-License-Identifier: MIT OR Apache-2.0
mod browser;
mod cdn;
mod default_run;
mod errors;
mod events;
mod golden;
mod interrupt;
mod live;
mod package;
mod storage;
mod validate;
mod webhooks;
