// SPDX-License-Identifier: MIT OR Apache-2.0
mod browser;
mod cdn;
mod default_run;
mod errors;
mod events;
mod golden;
mod interrupt;
mod ladder;
mod live;
mod package;
mod validate;
mod webhooks;
