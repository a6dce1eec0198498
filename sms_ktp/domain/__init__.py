"""Pure rules and values, no I/O: NIK and KK, wilayah, references, stages, masking, phone
numbers, the pickup calendar, quiet hours and local time. Imports nothing else of the project."""
