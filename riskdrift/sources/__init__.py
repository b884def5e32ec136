"""Where filings come from: SEC EDGAR over HTTP, or a local directory."""
