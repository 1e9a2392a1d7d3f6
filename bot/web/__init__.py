"""The web server: the coordinator dashboard, the privacy notice and the demo page with the chat widget."""
