//! `campctl stats [SECTION]`: read-only statistics (placeholder while sections are written).

use clap::Args;

use crate::Ctx;
use crate::exit::ExitStatus;
use crate::printer::Printer;

#[derive(Debug, Args)]
pub struct StatsArgs {}

pub async fn stats(_args: StatsArgs, _ctx: &Ctx, _printer: &Printer) -> anyhow::Result<ExitStatus> {
    Ok(ExitStatus::Success)
}
