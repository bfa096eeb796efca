//! `switchboard load`: the WhatsApp load generator (see `--help`).

pub async fn run(_args: &[String]) -> anyhow::Result<()> {
    anyhow::bail!("the load generator is not built yet")
}
