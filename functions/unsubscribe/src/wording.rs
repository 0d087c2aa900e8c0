//! Page texts in English, German, French and Spanish. `{store}` is the store's name.

use common::email::Language;

/// The texts of every page the unsubscribe function shows.
pub struct PageWording {
    /// Title of the confirmation page.
    pub confirm_title: &'static str,
    /// Explanation on that page.
    pub confirm_message: &'static str,
    /// Its button.
    pub confirm_button: &'static str,
    /// Title after unsubscribing.
    pub done_title: &'static str,
    /// Confirmation after unsubscribing.
    pub done_message: &'static str,
    /// Button that opts back in.
    pub resubscribe_button: &'static str,
    /// Title after opting back in.
    pub resubscribed_title: &'static str,
    /// Message after opting back in.
    pub resubscribed_message: &'static str,
    /// Message when opting back in is not possible (complaint or bounce).
    pub resubscribe_blocked: &'static str,
    /// Title of error pages.
    pub error_title: &'static str,
    /// Message for an invalid link.
    pub invalid_link: &'static str,
    /// Message when storage failed.
    pub try_again: &'static str,
    /// Message for any other bad request.
    pub bad_request: &'static str,
    /// Plain-text response to a one-click POST.
    pub one_click_done: &'static str,
}

/// Returns the texts of a language.
pub fn wording(language: Language) -> &'static PageWording {
    match language {
        Language::English => &ENGLISH,
        Language::German => &GERMAN,
        Language::French => &FRENCH,
        Language::Spanish => &SPANISH,
    }
}

const ENGLISH: PageWording = PageWording {
    confirm_title: "Unsubscribe from {store} cart reminders",
    confirm_message: "Confirm that you want no more reminder emails about carts you left at {store}.",
    confirm_button: "Unsubscribe",
    done_title: "You are unsubscribed",
    done_message: "You will get no more cart reminder emails from {store}. Changed your mind?",
    resubscribe_button: "Send me cart reminders again",
    resubscribed_title: "You are subscribed again",
    resubscribed_message: "You may get reminder emails about carts you leave at {store}.",
    resubscribe_blocked: "This address cannot get cart reminders from {store} again, because a message to it bounced or was reported as spam.",
    error_title: "Unsubscribe",
    invalid_link: "This unsubscribe link is invalid or incomplete. Please use the full link from the email.",
    try_again: "Something went wrong on our side and nothing was changed. Please try again in a minute.",
    bad_request: "This request could not be handled.",
    one_click_done: "You are unsubscribed from this store's cart reminders.\n",
};

const GERMAN: PageWording = PageWording {
    confirm_title: "Warenkorb-Erinnerungen von {store} abbestellen",
    confirm_message: "Bestätigen Sie, dass Sie keine Erinnerungen mehr an Warenkörbe bei {store} erhalten möchten.",
    confirm_button: "Abbestellen",
    done_title: "Sie sind abgemeldet",
    done_message: "Sie erhalten keine Warenkorb-Erinnerungen von {store} mehr. Haben Sie es sich anders überlegt?",
    resubscribe_button: "Erinnerungen wieder erhalten",
    resubscribed_title: "Sie sind wieder angemeldet",
    resubscribed_message: "Sie können wieder Erinnerungen an Warenkörbe bei {store} erhalten.",
    resubscribe_blocked: "Diese Adresse kann keine Erinnerungen von {store} mehr erhalten, weil eine Nachricht nicht zugestellt werden konnte oder als Spam gemeldet wurde.",
    error_title: "Abbestellen",
    invalid_link: "Dieser Abmeldelink ist ungültig oder unvollständig. Bitte verwenden Sie den vollständigen Link aus der E-Mail.",
    try_again: "Bei uns ist ein Fehler aufgetreten, es wurde nichts geändert. Bitte versuchen Sie es in einer Minute erneut.",
    bad_request: "Diese Anfrage konnte nicht bearbeitet werden.",
    one_click_done: "Sie sind von den Warenkorb-Erinnerungen dieses Shops abgemeldet.\n",
};

const FRENCH: PageWording = PageWording {
    confirm_title: "Se désabonner des rappels de panier de {store}",
    confirm_message: "Confirmez que vous ne voulez plus recevoir de rappels sur les paniers laissés chez {store}.",
    confirm_button: "Se désabonner",
    done_title: "Vous êtes désabonné",
    done_message: "Vous ne recevrez plus de rappels de panier de {store}. Vous avez changé d'avis ?",
    resubscribe_button: "Recevoir à nouveau les rappels",
    resubscribed_title: "Vous êtes à nouveau abonné",
    resubscribed_message: "Vous pourrez recevoir des rappels sur les paniers laissés chez {store}.",
    resubscribe_blocked: "Cette adresse ne peut plus recevoir de rappels de {store}, car un message n'a pas pu être distribué ou a été signalé comme spam.",
    error_title: "Désabonnement",
    invalid_link: "Ce lien de désabonnement est invalide ou incomplet. Utilisez le lien complet de l'e-mail.",
    try_again: "Une erreur s'est produite de notre côté et rien n'a été modifié. Réessayez dans une minute.",
    bad_request: "Cette demande n'a pas pu être traitée.",
    one_click_done: "Vous êtes désabonné des rappels de panier de cette boutique.\n",
};

const SPANISH: PageWording = PageWording {
    confirm_title: "Darse de baja de los recordatorios de carrito de {store}",
    confirm_message: "Confirma que no quieres recibir más recordatorios de los carritos que dejaste en {store}.",
    confirm_button: "Darme de baja",
    done_title: "Te has dado de baja",
    done_message: "No recibirás más recordatorios de carrito de {store}. ¿Cambiaste de opinión?",
    resubscribe_button: "Volver a recibir recordatorios",
    resubscribed_title: "Te has vuelto a suscribir",
    resubscribed_message: "Puedes volver a recibir recordatorios de los carritos que dejes en {store}.",
    resubscribe_blocked: "Esta dirección no puede volver a recibir recordatorios de {store}, porque un mensaje rebotó o se marcó como spam.",
    error_title: "Darse de baja",
    invalid_link: "Este enlace para darse de baja no es válido o está incompleto. Usa el enlace completo del correo.",
    try_again: "Algo falló por nuestra parte y no se cambió nada. Inténtalo de nuevo en un minuto.",
    bad_request: "No se pudo procesar esta solicitud.",
    one_click_done: "Te has dado de baja de los recordatorios de carrito de esta tienda.\n",
};
