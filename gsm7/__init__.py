"""The GSM 03.38 alphabet and how many SMS parts a text costs; shared by the dialogues, the
service and the gateways, and importing none of them."""
