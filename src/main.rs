use clap::Parser as _;

use rtaudio_tuning::console::{self, Closed};
use rtaudio_tuning::text::for_terminal;

fn main() {
    use rtaudio_tuning::cli;
    let result = if std::env::args_os().nth(1).is_some_and(|a| a == cli::AGENT) {
        let agent = cli::AgentCli::parse_from(std::env::args_os().skip(1));
        rtaudio_tuning::vm::agent_run(&agent.plan)
    } else {
        rtaudio_tuning::run(cli::Cli::parse())
    };
    let result = result.and_then(|code| {
        rtaudio_tuning::console::flush()?;
        Ok(code)
    });
    let code = match result {
        Ok(code) => code,
        // Nobody reads any more: nothing to say, and nowhere to say it.
        Err(err) if err.is::<Closed>() => rtaudio_tuning::exit::CLOSED,
        Err(err) => {
            // A closed standard error leaves the exit code to tell.
            let _ = rtaudio_tuning::errln!(
                "{}: {}",
                console::paint(console::style::ERROR, "error"),
                for_terminal(&format!("{err:#}"))
            );
            rtaudio_tuning::exit_code(&err)
        }
    };
    std::process::exit(code);
}
