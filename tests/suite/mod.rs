// SPDX-License-Identifier: MIT OR Apache-2.0
mod browser;
mod cdn;
mod errors;
mod golden;
mod package;
