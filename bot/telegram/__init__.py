"""The Telegram bridge, its own process (`python -m bot telegram`): Telegram chats talk to Rasa as the website widget does."""
