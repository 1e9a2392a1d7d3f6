"""Custom actions of Frivilligbotten (rasa-sdk). The SDK imports every module of this package."""
