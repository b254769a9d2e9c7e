/* The module is kmra_token linked whole; this file only gives the target a source. */
