"""riskdrift: an asyncio-native job service for 10-K risk-factor drift analysis."""

__version__ = "0.1.0"
