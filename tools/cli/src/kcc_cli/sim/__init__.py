"""The traffic simulator behind `kcc simulate`: a calibrated traffic model (`model`), Dutch
question texts (`texts`), one HTTP client for every platform call (`client`), the runner that
plays a plan against the platform (`runner`) and the reports (`report`)."""
