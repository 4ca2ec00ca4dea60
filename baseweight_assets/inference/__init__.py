"""One async OpenAI-compatible client for vLLM and the OpenAI API, and the in-process engine: cached, resumable, resilient."""
