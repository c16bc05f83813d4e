"""chevereto-bot: uploads the images and videos people post in chats to a Chevereto host."""
