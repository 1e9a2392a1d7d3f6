"""What the bot knows, used by the action server and the dashboard: facts from the five source
documents with their sources (the YAML files here), Denmark's regions and municipalities,
and the code that finds things in them (`base`, `geo`)."""

from bot.knowledge.base import Contact, Interest, KnowledgeBase, Opportunity, Query, Region, SearchResult, Source, Topic, kb

__all__ = ["Contact", "Interest", "KnowledgeBase", "Opportunity", "Query", "Region", "SearchResult", "Source", "Topic", "kb"]
