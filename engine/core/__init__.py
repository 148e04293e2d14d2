"""The decision core: load, validate, facts, rules, compile, durable_rules, decide, explain."""
