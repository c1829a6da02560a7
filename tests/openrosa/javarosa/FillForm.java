// Fills a form with JavaRosa (the engine inside ODK Collect, as shipped in pyxform's ODK Validate
// jar) and writes the instance exactly as JavaRosa serialises it, which is what Collect sends.
// Usage: java -cp ODK_Validate.jar:. FillForm form.xml answers.properties out.xml
// Answers are question name = value; "name.count" = n adds n repeat instances; "deviceid" is
// what the form's deviceid preload reads (Collect's install id).
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.text.SimpleDateFormat;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.javarosa.core.model.Constants;
import org.javarosa.core.model.FormDef;
import org.javarosa.core.model.data.DateData;
import org.javarosa.core.model.data.DecimalData;
import org.javarosa.core.model.data.GeoPointData;
import org.javarosa.core.model.data.IAnswerData;
import org.javarosa.core.model.data.IntegerData;
import org.javarosa.core.model.data.SelectMultiData;
import org.javarosa.core.model.data.SelectOneData;
import org.javarosa.core.model.data.StringData;
import org.javarosa.core.model.data.helper.Selection;
import org.javarosa.core.model.instance.InstanceInitializationFactory;
import org.javarosa.core.services.IPropertyManager;
import org.javarosa.core.services.PropertyManager;
import org.javarosa.core.services.properties.IPropertyRules;
import org.javarosa.form.api.FormEntryController;
import org.javarosa.form.api.FormEntryModel;
import org.javarosa.form.api.FormEntryPrompt;
import org.javarosa.model.xform.XFormSerializingVisitor;
import org.javarosa.xform.util.XFormUtils;

public class FillForm {
    public static void main(String[] args) throws Exception {
        Properties answers = new Properties();
        try (InputStreamReader in = new InputStreamReader(new FileInputStream(args[1]), StandardCharsets.UTF_8)) {
            answers.load(in);
        }
        PropertyManager.setPropertyManager(new Device(answers.getProperty("deviceid", "")));
        FormDef form = XFormUtils.getFormFromInputStream(new FileInputStream(args[0]));
        form.initialize(true, new InstanceInitializationFactory());
        FormEntryModel model = new FormEntryModel(form);
        FormEntryController controller = new FormEntryController(model);
        Map<String, Integer> repeats = new HashMap<>();
        int event;
        int steps = 0;
        while ((event = controller.stepToNextEvent()) != FormEntryController.EVENT_END_OF_FORM) {
            if (++steps > 10000) {
                throw new IllegalStateException("form did not end");
            }
            String name = model.getFormIndex().getReference() == null
                    ? "" : model.getFormIndex().getReference().getNameLast();
            if (event == FormEntryController.EVENT_PROMPT_NEW_REPEAT) {
                int wanted = Integer.parseInt(answers.getProperty(name + ".count", "0"));
                int made = repeats.getOrDefault(name, 0);
                if (made < wanted) {
                    repeats.put(name, made + 1);
                    controller.newRepeat();
                }
            } else if (event == FormEntryController.EVENT_QUESTION) {
                String value = answers.getProperty(name);
                FormEntryPrompt prompt = model.getQuestionPrompt();
                if (value != null && !prompt.isReadOnly()) {
                    int status = controller.answerQuestion(answer(prompt.getDataType(), value), true);
                    if (status != FormEntryController.ANSWER_OK) {
                        throw new IllegalStateException("answer to " + name + " refused: " + status);
                    }
                }
            }
        }
        form.postProcessInstance();
        byte[] xml = new XFormSerializingVisitor().serializeInstance(form.getInstance());
        try (FileOutputStream out = new FileOutputStream(args[2])) {
            out.write(xml);
        }
    }

    static IAnswerData answer(int type, String value) throws Exception {
        switch (type) {
            case Constants.DATATYPE_INTEGER:
                return new IntegerData(Integer.parseInt(value));
            case Constants.DATATYPE_DECIMAL:
                return new DecimalData(Double.parseDouble(value));
            case Constants.DATATYPE_DATE:
                return new DateData(new SimpleDateFormat("yyyy-MM-dd").parse(value));
            case Constants.DATATYPE_CHOICE:
                return new SelectOneData(new Selection(value));
            case Constants.DATATYPE_CHOICE_LIST:
                List<Selection> chosen = new ArrayList<>();
                for (String part : value.split(" ")) {
                    chosen.add(new Selection(part));
                }
                return new SelectMultiData(chosen);
            case Constants.DATATYPE_GEOPOINT:
                String[] p = value.split(" ");
                double[] point = new double[p.length];
                for (int i = 0; i < p.length; i++) {
                    point[i] = Double.parseDouble(p[i]);
                }
                return new GeoPointData(point);
            default:
                return new StringData(value);
        }
    }

    // Collect's property manager answers the deviceid preload; nothing else is asked for here.
    static class Device implements IPropertyManager {
        private final String deviceId;

        Device(String deviceId) {
            this.deviceId = deviceId;
        }

        public List<String> getProperty(String name) {
            List<String> values = new ArrayList<>();
            values.add(getSingularProperty(name));
            return values;
        }

        public void setProperty(String name, String value) {
        }

        public void setProperty(String name, List<String> values) {
        }

        public String getSingularProperty(String name) {
            return "deviceid".equalsIgnoreCase(name) ? deviceId : "";
        }

        public void addRules(IPropertyRules rules) {
        }

        public List<IPropertyRules> getRules() {
            return new ArrayList<>();
        }
    }
}
