// SPDX-License-Identifier: MIT OR Apache-2.0
mod browser;
mod cdn;
mod default_run;
mod errors;
mod golden;
mod live;
mod package;
mod validate;
