print("modelprint")
